// What a run asks of the service and the session, from the config: the simulator or a real
// service, its endpoint, the connection options, and the conversation (session.update) options.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "ava/app/run.hpp"
#include "run_parts.hpp"

namespace ava::app {
namespace {

using namespace std::chrono_literals;

// ---- the session config ------------------------------------------------------------------------

/// The language's English name for the instructions ("de" -> "German"); the code itself when
/// it is not in this table (the model knows ISO-639-1 codes too).
std::string language_name(const std::string& code) {
    static const std::pair<const char*, const char*> names[] = {
        {"ar", "Arabic"},     {"bg", "Bulgarian"},  {"ca", "Catalan"},   {"cs", "Czech"},
        {"da", "Danish"},     {"de", "German"},     {"el", "Greek"},     {"en", "English"},
        {"es", "Spanish"},    {"et", "Estonian"},   {"fa", "Persian"},   {"fi", "Finnish"},
        {"fr", "French"},     {"he", "Hebrew"},     {"hi", "Hindi"},     {"hr", "Croatian"},
        {"hu", "Hungarian"},  {"id", "Indonesian"}, {"it", "Italian"},   {"ja", "Japanese"},
        {"ko", "Korean"},     {"lt", "Lithuanian"}, {"lv", "Latvian"},   {"ms", "Malay"},
        {"nl", "Dutch"},      {"no", "Norwegian"},  {"pl", "Polish"},    {"pt", "Portuguese"},
        {"ro", "Romanian"},   {"ru", "Russian"},    {"sk", "Slovak"},    {"sl", "Slovenian"},
        {"sr", "Serbian"},    {"sv", "Swedish"},    {"sw", "Swahili"},   {"ta", "Tamil"},
        {"th", "Thai"},       {"tr", "Turkish"},    {"uk", "Ukrainian"}, {"ur", "Urdu"},
        {"vi", "Vietnamese"}, {"zh", "Chinese"},
    };
    const std::string base = code.substr(0, code.find('-'));
    for (const auto& [c, n] : names) {
        if (base == c) return n;
    }
    return code;
}

realtime::session_config session_from(const config& cfg) {
    realtime::session_config s;
    s.type = "realtime";
    s.model = cfg.provider.model;
    s.output_modalities =
        std::vector<std::string>{cfg.session.modality == output_modality::text ? "text" : "audio"};
    s.instructions = cfg.session.resolved_instructions;
    if (const std::string& lang = cfg.transcription.language; !lang.empty()) {
        *s.instructions += "\n\nLanguage: always answer in " + language_name(lang) + " (" + lang +
                           "), whatever language earlier messages or tool results are in; "
                           "switch only when the user asks you to.";
    }
    s.input_format = realtime::audio_format{};
    s.output_format = realtime::audio_format{};
    switch (cfg.session.noise_reduction) {
        case noise_reduction_kind::near_field:
            s.noise_reduction = "near_field";
            break;
        case noise_reduction_kind::far_field:
            s.noise_reduction = "far_field";
            break;
        case noise_reduction_kind::off:
            s.noise_reduction = "";
            break;
    }
    realtime::transcription tr;
    tr.model = cfg.transcription.model;  // empty = null: transcription off
    if (!tr.model.empty() && !cfg.transcription.language.empty()) {
        tr.language = cfg.transcription.language;
    }
    s.input_transcription = tr;

    realtime::turn_detection td;
    switch (cfg.vad.type) {
        case vad_kind::manual:
            td.type = realtime::vad_type::none;
            break;
        case vad_kind::server:
            td.type = realtime::vad_type::server_vad;
            td.threshold = cfg.vad.threshold;
            td.prefix_padding_ms = static_cast<int>(cfg.vad.prefix_padding.count());
            td.silence_duration_ms = static_cast<int>(cfg.vad.silence_duration.count());
            if (cfg.vad.idle_timeout.count() > 0) {
                td.idle_timeout_ms = static_cast<int>(cfg.vad.idle_timeout.count());
            }
            break;
        case vad_kind::semantic:
            td.type = realtime::vad_type::semantic_vad;
            td.eagerness = std::string(to_string(cfg.vad.eagerness));
            break;
    }
    if (td.type != realtime::vad_type::none) {
        td.create_response = cfg.vad.create_response;
        td.interrupt_response = cfg.vad.interrupt_response;
    }
    s.turn = td;
    s.voice = cfg.session.voice;
    s.speed = cfg.session.speed;
    return s;
}

}  // namespace

realtime::conversation_options conversation_from(const config& cfg) {
    realtime::conversation_options o;
    o.session = session_from(cfg);
    o.frame_samples = static_cast<std::size_t>(core::ms_to_samples(cfg.audio.frame.count()));
    o.reconnect.initial = cfg.reconnect.initial_backoff;
    o.reconnect.max = cfg.reconnect.max_backoff;
    // The backoff treats <= 0 as "never give up"; the config's 0 means "do not reconnect", which
    // is as close as one try gets.
    o.reconnect.max_attempts = std::max(1, cfg.reconnect.max_tries);
    if (cfg.provider.kind == provider_kind::azure) o.max_session = 30min;  // Azure's cap (3p)
    o.prices.text_in = cfg.prices.text_in;
    o.prices.text_cached = cfg.prices.text_cached_in;
    o.prices.text_out = cfg.prices.text_out;
    o.prices.audio_in = cfg.prices.audio_in;
    o.prices.audio_cached = cfg.prices.audio_cached_in;
    o.prices.audio_out = cfg.prices.audio_out;
    o.tool_filler_after = cfg.tools.filler_after;
    return o;
}

// ---- choosing the service ----------------------------------------------------------------------

bool wants_simulator(const config& cfg) {
    if (cfg.provider.kind == provider_kind::sim) return true;
    // OpenAI with no key and no explicit endpoint: the offline demo.
    return cfg.provider.kind == provider_kind::openai && cfg.provider.api_key.empty() &&
           cfg.provider.endpoint.empty();
}

realtime::endpoint service_endpoint(const config& cfg) {
    realtime::provider_settings p;
    p.model = cfg.provider.model;
    p.api_key = cfg.provider.api_key;
    if (!cfg.provider.endpoint.empty()) {
        p.provider = "custom";
        p.endpoint_url = cfg.provider.endpoint;
    } else if (cfg.provider.kind == provider_kind::azure) {
        p.provider = "azure";
        p.azure_endpoint = cfg.azure.endpoint;
        p.deployment = cfg.azure.deployment;
    } else {
        p.provider = "openai";
        p.base_url = cfg.openai.base_url;
    }
    // The key was read from the environment by the config loader; do not read it again.
    return realtime::build_endpoint(
        p, [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
}

realtime::connection_options connection_options_from(const config& cfg, realtime::endpoint ep) {
    realtime::connection_options c;
    c.target = std::move(ep);
    c.ca_file = cfg.network.ca_file;
    c.insecure_skip_verify = cfg.network.insecure_skip_verify;
    c.allow_plain_ws = cfg.network.allow_plain_ws;
    if (!cfg.network.proxy.empty()) c.proxy = cfg.network.proxy;
    if (!cfg.network.no_proxy.empty()) c.no_proxy = cfg.network.no_proxy;
    // Unset: the proxy variables the loader passed on (it is the one reader of the environment).
    c.env = [vars = cfg.environment.proxy_variables](
                std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
    c.connect_timeout = cfg.network.connect_timeout;
    c.ping_interval = cfg.network.ping_interval;
    return c;
}

}  // namespace ava::app
