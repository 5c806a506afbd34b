// ava-realtime-sim: the session's responses (session.hpp): response.create and .cancel, the
// scenario's turns, and generating a reply (text, audio, function calls) at the session's pace.
#include "session.hpp"

#include <algorithm>
#include <functional>
#include <span>

#include "ava/core/base64.hpp"
#include "voice.hpp"

namespace ava::sim::detail {

void session::on_response_create(const json& ev, const json& eid) {
    if (resp_) {
        send_error({"conversation_already_has_active_response",
                    "Conversation already has an active response in progress: " + resp_->id +
                        ". Wait until the response is finished before creating a new one.",
                    ""},
                   eid);
        return;
    }
    json overrides = ev.contains("response") ? ev["response"] : json::object();
    if (auto e = detail::validate_response_overrides(overrides)) {
        send_error(*e, eid);
        return;
    }
    start_response(overrides);
}

void session::on_response_cancel(const json& ev, const json& eid) {
    const bool id_matches =
        !ev.contains("response_id") || (resp_ && ev["response_id"] == resp_->id);
    if (!resp_ || !id_matches) {
        send_error(
            {"response_cancel_not_active", "Cancellation failed: no active response found", ""},
            eid);
        return;
    }
    cancel_response("client_cancelled");
}

void session::cancel_response(const std::string& reason) {
    if (!resp_ || !resp_->cancel_reason.empty()) return;
    resp_->cancel_reason = reason;
    resp_->timer.cancel();
}

const detail::scenario_turn& session::next_turn() {
    const auto& turns = st_.scen.turns;
    if (turn_index_ >= turns.size() && st_.scen.loop && !turns.empty()) turn_index_ = 0;
    if (turn_index_ < turns.size()) return turns[turn_index_++];
    generic_turn_.reply = st_.scen.generic_reply;
    return generic_turn_;
}

void session::start_response(const json& overrides) {
    auto r = std::make_shared<response_state>(ex_);
    r->id = random_id("resp_");
    // Content: the follow-up of a tool round trip, or the next scenario turn.
    const bool no_tools = overrides.value("tool_choice", json("auto")) == "none";
    if (!pending_calls_.empty() && !outputs_.empty()) {
        r->text = detail::substitute_outputs(followup_, outputs_);
        pending_calls_.clear();
        outputs_.clear();
    } else if (!pending_calls_.empty() && no_tools) {
        // A response while the calls still run, with tools off (a client's "still working"
        // filler): a short holding line; the calls stay pending and the follow-up comes later.
        r->text = "One moment, let me check that.";
    } else {
        pending_calls_.clear();
        outputs_.clear();
        const detail::scenario_turn& t = next_turn();
        ++turn_number_;
        turn_event_counts_.clear();
        turn_faults_ = t.faults;
        r->text = t.reply;
        r->calls = t.calls;
        followup_ = t.followup;
        st_.update(index_, [&](summary& s, session_summary& ss) {
            s.turns++;
            ss.turns++;
        });
    }
    const json& mods = overrides.contains("output_modalities") ? overrides["output_modalities"]
                                                               : config_["output_modalities"];
    r->text_mode = mods[0] == "text";
    const json& out = config_["audio"]["output"];
    json voice = out["voice"];
    json fmt = out["format"];
    if (overrides.contains("audio") && overrides["audio"].contains("output")) {
        const json& o = overrides["audio"]["output"];
        if (o.contains("voice")) voice = o["voice"];
        if (o.contains("format")) fmt = o["format"];
    }
    r->voice = voice.is_string() ? voice.get<std::string>() : voice.value("id", "marin");
    r->format = fmt.value("type", "audio/pcm");
    r->speed = out.value("speed", 1.0);
    r->metadata = overrides.value("metadata", json(nullptr));
    r->max_output_tokens = overrides.contains("max_output_tokens") ? overrides["max_output_tokens"]
                                                                   : config_["max_output_tokens"];
    r->in_conversation = overrides.value("conversation", "auto") != "none";
    // Input usage: the whole history, re-billed on every response (protocol ref section 8),
    // with the prompt cache: the part of the prompt that starts the same as the previous
    // response's (instructions, then the same items in the same order) is billed as cached once
    // it reaches 1024 tokens, in steps of 128 (OpenAI's prompt caching). Deleting an early item
    // breaks the prefix; the history after it is billed in full again.
    const std::string instr = overrides.value("instructions", config_.value("instructions", ""));
    std::vector<prompt_part> prompt;
    prompt.push_back({"instructions:" + std::to_string(std::hash<std::string>{}(instr)),
                      text_tokens(instr.size()), 0});
    for (const item_ptr& it : conv_) {
        prompt_part part{it->item.value("id", ""), 0, 0};
        if (it->item["role"] == "user")
            part.audio += static_cast<std::int64_t>(it->audio.size()) / 2400;  // 10/s
        else
            part.audio += static_cast<std::int64_t>(it->audio.size()) / 1200;  // 20/s
        part.text += text_tokens(it->transcript.size());
        if (it->item.contains("content"))
            for (const json& p : it->item["content"])
                if (p.contains("text") && p["text"].is_string())
                    part.text += text_tokens(p["text"].get_ref<const std::string&>().size());
        if (it->item.contains("arguments"))
            part.text += text_tokens(it->item["arguments"].dump().size());
        if (it->item.contains("output")) part.text += text_tokens(it->item["output"].dump().size());
        prompt.push_back(std::move(part));
    }
    std::int64_t prefix_text = 0;
    std::int64_t prefix_audio = 0;
    for (std::size_t i = 0; i < prompt.size() && i < last_prompt_.size(); ++i) {
        if (!(prompt[i] == last_prompt_[i])) break;
        prefix_text += prompt[i].text;
        prefix_audio += prompt[i].audio;
    }
    for (const prompt_part& p : prompt) {
        r->in_text_tokens += p.text;
        r->in_audio_tokens += p.audio;
    }
    const std::int64_t prefix = prefix_text + prefix_audio;
    if (prefix >= 1024) {
        const std::int64_t cached = 1024 + (prefix - 1024) / 128 * 128;
        r->cached_audio_tokens = cached * prefix_audio / prefix;
        r->cached_text_tokens = cached - r->cached_audio_tokens;
    }
    last_prompt_ = std::move(prompt);
    resp_ = r;
    asio::co_spawn(ex_, run_response(shared_from_this(), r), asio::detached);
}

json session::response_object(const response_state& r, const std::string& status,
                              const json& details, const json& usage) const {
    return {{"object", "realtime.response"},
            {"id", r.id},
            {"status", status},
            {"status_details", details},
            {"output", r.output},
            {"conversation_id", r.in_conversation ? json("conv_" + id_.substr(5)) : json(nullptr)},
            {"output_modalities", json::array({r.text_mode ? "text" : "audio"})},
            {"max_output_tokens", r.max_output_tokens},
            {"audio",
             {{"output",
               {{"format", r.format == "audio/pcm" ? json{{"type", "audio/pcm"}, {"rate", 24000}}
                                                   : json{{"type", r.format}}},
                {"voice", r.voice}}}}},
            {"usage", usage},
            {"metadata", r.metadata}};
}

clock::time_point session::due_at(clock::time_point t0, double media_ms) const {
    if (st_.opts.pace <= 0) return t0;  // unpaced: pace_until() only yields
    return t0 +
           std::chrono::microseconds(static_cast<std::int64_t>(media_ms * 1000.0 / st_.opts.pace));
}

asio::awaitable<bool> session::pace_until(response_state& r, clock::time_point deadline) {
    if (!r.cancel_reason.empty() || ended_ || closing_) co_return false;
    error_code ec;
    if (st_.opts.pace > 0) {
        r.timer.expires_at(deadline);
        co_await r.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    } else {
        co_await asio::post(ex_, asio::use_awaitable);  // let the reader run between deltas
    }
    co_return r.cancel_reason.empty() && !ended_ && !closing_;
}

void session::after_first_delta(response_state& r) {
    if (r.first_delta_sent) return;
    r.first_delta_sent = true;
    flush_transcripts();  // user transcripts land after the reply has started
}

item_ptr session::add_output_item(response_state& r, json item) {
    auto ci = std::make_shared<conv_item>();
    ci->item = std::move(item);
    const std::string prev = last_item_id();
    if (r.in_conversation) conv_.push_back(ci);
    const auto index = r.output.size();
    r.output.push_back(ci->item);
    send({{"type", "response.output_item.added"},
          {"response_id", r.id},
          {"output_index", index},
          {"item", ci->item}});
    if (r.in_conversation)
        send({{"type", "conversation.item.added"},
              {"previous_item_id", id_or_null(prev)},
              {"item", ci->item}});
    return ci;
}

void session::finish_output_item(response_state& r, const item_ptr& ci, std::size_t index) {
    r.output[index] = ci->item;
    send({{"type", "response.output_item.done"},
          {"response_id", r.id},
          {"output_index", index},
          {"item", ci->item}});
    if (r.in_conversation) {
        const auto at = find_item(ci->item["id"].get<std::string>());
        const std::string prev =
            at > 0 ? conv_[static_cast<std::size_t>(at - 1)]->item["id"].get<std::string>() : "";
        send({{"type", "conversation.item.done"},
              {"previous_item_id", id_or_null(prev)},
              {"item", ci->item}});
    }
}

asio::awaitable<void> session::stream_message(response_state& r) {
    const std::size_t index = r.output.size();
    item_ptr ci = add_output_item(r, {{"id", random_id("item_")},
                                      {"object", "realtime.item"},
                                      {"type", "message"},
                                      {"status", "in_progress"},
                                      {"role", "assistant"},
                                      {"content", json::array()}});
    const json item_id = ci->item["id"];
    const std::vector<std::string> words = split_words(r.text);
    const json base = {
        {"response_id", r.id}, {"item_id", item_id}, {"output_index", index}, {"content_index", 0}};
    auto with = [&](const char* type, json extra) {
        json ev = base;
        ev["type"] = type;
        for (auto& [k, v] : extra.items()) ev[k] = v;
        return ev;
    };
    const auto t0 = clock::now();
    std::size_t words_sent = 0;
    std::string said;
    auto next_word = [&] {
        std::string d = words_sent == 0 ? "" : " ";
        d += words[words_sent];
        ++words_sent;
        said += d;
        return d;
    };
    if (r.text_mode) {
        send(with("response.content_part.added", {{"part", {{"type", "text"}, {"text", ""}}}}));
        const double word_ms = 150.0 / std::max(r.speed, 0.25);
        while (words_sent < words.size()) {
            const auto due = due_at(t0, static_cast<double>(words_sent) * word_ms);
            if (!co_await pace_until(r, due)) break;
            send(with("response.output_text.delta", {{"delta", next_word()}}));
            after_first_delta(r);
        }
        r.out_text_chars += said.size();
        ci->transcript = said;
        send(with("response.output_text.done", {{"text", said}}));
        send(with("response.content_part.done", {{"part", {{"type", "text"}, {"text", said}}}}));
        ci->item["content"] = json::array({{{"type", "output_text"}, {"text", said}}});
    } else {
        send(with("response.content_part.added",
                  {{"part", {{"type", "audio"}, {"transcript", ""}}}}));
        auto pcm = detail::synthesize(r.text, r.voice, r.speed, st_.opts.synth);
        ci->assistant_audio = true;
        ci->full_text = r.text;
        const auto chunk = static_cast<std::size_t>(std::max(st_.opts.delta_ms, 10)) * 24;
        const std::size_t chunks = (pcm->size() + chunk - 1) / chunk;
        const bool g711 = r.format != "audio/pcm";
        for (std::size_t k = 0; k < chunks; ++k) {
            const double at_ms = static_cast<double>(k * chunk) / 24.0;
            const auto due = due_at(t0, at_ms);
            if (!co_await pace_until(r, due)) break;
            if (ci->truncated) break;  // the client cut this item: generate no more of it
            // The transcript runs a little ahead of the audio, as from the real service.
            const std::size_t want =
                std::min(words.size(), (k + 2) * words.size() / std::max<std::size_t>(chunks, 1));
            while (words_sent < want)
                send(with("response.output_audio_transcript.delta", {{"delta", next_word()}}));
            const std::size_t n = std::min(chunk, pcm->size() - k * chunk);
            const std::int16_t* p = pcm->data() + k * chunk;
            std::string b64;
            if (g711) {
                auto enc = detail::pcm24k_to_g711(p, n, r.format == "audio/pcmu");
                b64 = core::base64_encode(std::as_bytes(std::span(enc)));
            } else {
                b64 = core::base64_encode(std::as_bytes(std::span(p, n)));
            }
            ci->audio.insert(ci->audio.end(), p, p + n);
            ci->transcript = said;
            r.out_audio_samples += static_cast<std::int64_t>(n);
            voice_locked_ = true;
            send(with("response.output_audio.delta", {{"delta", std::move(b64)}}));
            after_first_delta(r);
        }
        const bool complete =
            r.cancel_reason.empty() && !ci->truncated && ci->audio.size() == pcm->size();
        if (complete) {
            while (words_sent < words.size())
                send(with("response.output_audio_transcript.delta", {{"delta", next_word()}}));
        }
        if (!ci->truncated) ci->transcript = said;
        r.out_text_chars += said.size();
        st_.update(index_, [&](summary&, session_summary& ss) {
            ss.output_audio_ms += static_cast<std::int64_t>(ci->audio.size()) / samples_per_ms;
        });
        send(with("response.output_audio.done", json::object()));
        send(with("response.output_audio_transcript.done", {{"transcript", ci->transcript}}));
        send(with("response.content_part.done",
                  {{"part", {{"type", "audio"}, {"transcript", ci->transcript}}}}));
        ci->item["content"] =
            json::array({{{"type", "output_audio"}, {"transcript", ci->transcript}}});
    }
    ci->item["status"] = r.cancel_reason.empty() ? "completed" : "incomplete";
    finish_output_item(r, ci, index);
}

void session::emit_function_call(response_state& r, const detail::scenario_call& call) {
    const std::size_t index = r.output.size();
    const std::string call_id = random_id("call_");
    item_ptr ci = add_output_item(r, {{"id", random_id("item_")},
                                      {"object", "realtime.item"},
                                      {"type", "function_call"},
                                      {"status", "in_progress"},
                                      {"name", call.name},
                                      {"call_id", call_id},
                                      {"arguments", ""}});
    const json base = {{"response_id", r.id},
                       {"item_id", ci->item["id"]},
                       {"output_index", index},
                       {"call_id", call_id}};
    // Arguments stream in two deltas, as a model's would.
    const std::size_t half = call.arguments.size() / 2;
    for (const std::string& part : {call.arguments.substr(0, half), call.arguments.substr(half)}) {
        json ev = base;
        ev["type"] = "response.function_call_arguments.delta";
        ev["delta"] = part;
        send(ev);
        after_first_delta(r);
    }
    json done = base;
    done["type"] = "response.function_call_arguments.done";
    done["name"] = call.name;
    done["arguments"] = call.arguments;
    send(done);
    r.out_text_chars += call.arguments.size();
    ci->item["status"] = "completed";
    ci->item["arguments"] = call.arguments;
    pending_calls_.emplace_back(call_id, call.name);
    finish_output_item(r, ci, index);
}

asio::awaitable<void> session::run_response(std::shared_ptr<session> self,
                                            std::shared_ptr<response_state> r) {
    send({{"type", "response.created"},
          {"response", response_object(*r, "in_progress", nullptr, nullptr)}});
    const std::int64_t est = r->in_text_tokens + r->in_audio_tokens + 600;
    send({{"type", "rate_limits.updated"},
          {"rate_limits", json::array({{{"name", "requests"},
                                        {"limit", 5000},
                                        {"remaining", 4999},
                                        {"reset_seconds", 0.012}},
                                       {{"name", "tokens"},
                                        {"limit", 800000},
                                        {"remaining", 800000 - est},
                                        {"reset_seconds", 0.045}}})}});
    if (!r->text.empty()) co_await stream_message(*r);
    for (const auto& call : r->calls) {
        if (!r->cancel_reason.empty() || ended_ || closing_) break;
        emit_function_call(*r, call);
    }
    if (ended_) co_return;
    after_first_delta(*r);
    const std::int64_t out_audio = r->out_audio_samples / 1200;  // 20 tokens per second
    const std::int64_t out_text = text_tokens(r->out_text_chars);
    const std::int64_t in_total = r->in_text_tokens + r->in_audio_tokens;
    json usage = {
        {"total_tokens", in_total + out_audio + out_text},
        {"input_tokens", in_total},
        {"output_tokens", out_audio + out_text},
        {"input_token_details",
         {{"text_tokens", r->in_text_tokens},
          {"audio_tokens", r->in_audio_tokens},
          {"image_tokens", 0},
          {"cached_tokens", r->cached_text_tokens + r->cached_audio_tokens},
          {"cached_tokens_details",
           {{"text_tokens", r->cached_text_tokens},
            {"audio_tokens", r->cached_audio_tokens},
            {"image_tokens", 0}}}}},
        {"output_token_details", {{"text_tokens", out_text}, {"audio_tokens", out_audio}}}};
    const bool cancelled = !r->cancel_reason.empty();
    const json details =
        cancelled ? json{{"type", "cancelled"}, {"reason", r->cancel_reason}} : json(nullptr);
    if (cancelled && !r->calls.empty()) pending_calls_.clear();  // not for a filler
    resp_.reset();
    st_.update(index_, [&](summary& s, session_summary& ss) {
        s.responses++;
        ss.responses++;
        if (cancelled) ss.responses_cancelled++;
    });
    send(
        {{"type", "response.done"},
         {"response", response_object(*r, cancelled ? "cancelled" : "completed", details, usage)}});
    (void)self;
}

}  // namespace ava::sim::detail
