// Private to the codec (ava_codec and ava_codec_peer): what the client direction (codec.cpp)
// and the server direction (codec_peer.cpp) share beyond the JSON helpers. The value shapes
// that travel both ways (session config, items and their content parts, tool definitions,
// metadata), read and written in codec_shapes.cpp; the envelope every encoded event gets; and
// the dispatch of decoding on "type".
//
// The dispatch finds each direction's `read_fields(const obj&, E&)` by argument-dependent lookup,
// so those overloads are defined in this namespace (codec.cpp: server events; codec_peer.cpp:
// client events).
#pragma once

#include <array>
#include <cstddef>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ava/realtime/events.hpp"
#include "codec_json.hpp"

namespace ava::realtime::codec_detail {

// ---- the shared value shapes (codec_shapes.cpp) -----------------------------------------------

session_config read_session(const obj& s);
content_part read_part(const obj& o);
item read_item(const obj& o);
std::optional<std::vector<tool_def>> read_tools(const obj& o);
std::optional<std::string> read_tool_choice(const obj& o);
std::optional<int> read_max_tokens(const obj& o);
std::optional<std::string> read_voice(const obj& o);

json session_json(const session_config& c);
json part_json(const content_part& p);
json item_json(const item& it);
json tools_json(const std::vector<tool_def>& tools);
json tool_choice_json(const std::string& c);
json max_tokens_json(int n);
json voice_json(const std::string& v);
json metadata_json(const std::map<std::string, std::string>& m);

// ---- encoding: the envelope -------------------------------------------------------------------

/// `{"type":type,"event_id":event_id}` (event_id omitted when empty), for write_fields to fill.
json event_object(std::string_view type, const std::string& event_id);

/// The two alternatives that are not wire events (see codec.hpp).
std::string encode_note(const unknown_event& e);
std::string encode_note(const decode_error& e);

/// conversation.item.truncate and conversation.item.truncated carry the same three fields.
template <class E>
void write_truncate(json& j, const E& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["audio_end_ms"] = e.audio_end_ms;
}

// ---- decoding: dispatch on "type" -------------------------------------------------------------

template <class Variant>
using decoder_fn = Variant (*)(const obj&);

template <class Variant, class E>
Variant decode_as(const obj& o) {
    E ev{};
    ev.event_id = o.str("event_id");
    read_fields(o, ev);
    return Variant{std::in_place_type<E>, std::move(ev)};
}

template <class Variant>
struct decoder_entry {
    std::string_view type;
    decoder_fn<Variant> fn;
};

/// One entry per event alternative: every alternative but the last two (unknown_event and
/// decode_error), in variant order.
template <class Variant, std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
    return std::array<decoder_entry<Variant>, sizeof...(I)>{
        {{std::variant_alternative_t<I, Variant>::type,
          &decode_as<Variant, std::variant_alternative_t<I, Variant>>}...}};
}
template <class Variant>
constexpr auto event_table =
    make_table<Variant>(std::make_index_sequence<std::variant_size_v<Variant> - 2>{});

static_assert(
    std::is_same_v<std::variant_alternative_t<std::variant_size_v<client_event> - 2, client_event>,
                   unknown_event>);
static_assert(
    std::is_same_v<std::variant_alternative_t<std::variant_size_v<server_event> - 2, server_event>,
                   unknown_event>);

template <class Variant, std::size_t N>
decoder_fn<Variant> find_decoder(std::string_view type,
                                 const std::array<decoder_entry<Variant>, N>& aliases) {
    for (const auto& e : event_table<Variant>) {
        if (e.type == type) return e.fn;
    }
    for (const auto& e : aliases) {
        if (e.type == type) return e.fn;
    }
    return nullptr;
}

template <class Variant, std::size_t N>
Variant decode_any(std::string_view text,
                   const std::array<decoder_entry<Variant>, N>& aliases) noexcept {
    json root;  // outside the try: `type` views into it from the catch blocks
    std::string_view type;
    try {
        std::string error;
        if (!parse_bounded(text, root, error)) return decode_error{"", "", std::move(error)};
        if (!root.is_object()) {
            return decode_error{"", "", wrong_type("a JSON object (an event)", root)};
        }
        const obj o(root, std::string());
        const json* t = o.member("type");
        if (t == nullptr) return decode_error{"", "type", "missing required field"};
        if (!t->is_string()) return decode_error{"", "type", wrong_type("string", *t)};
        type = t->get_ref<const std::string&>();
        const decoder_fn<Variant> fn = find_decoder<Variant>(type, aliases);
        if (fn == nullptr) return unknown_event{std::string(type)};
        return fn(o);
    } catch (field_error& e) {
        return decode_error{std::string(type), std::move(e.field), std::move(e.message)};
    } catch (const std::exception& e) {
        return decode_error{std::string(type), "", std::string("decoder failed: ") + e.what()};
    } catch (...) {
        return decode_error{std::string(type), "", "decoder failed"};
    }
}

}  // namespace ava::realtime::codec_detail
