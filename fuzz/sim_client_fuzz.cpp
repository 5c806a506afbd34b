// libFuzzer target: the simulator's own reading of client events (sim/session_schema.hpp), which
// any client of ava-realtime-sim reaches and which is written independently of the client's
// codec: the nesting limit checked before parsing, then nlohmann's parser, then the strict GA
// validation of session.update (and, when valid, the partial merge into the effective session)
// and of response.create's overrides, and the dump the event log writes. None of it may crash,
// hang or recurse without bound, whatever the frame.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "session_schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using ava::sim::detail::max_event_depth;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (ava::sim::detail::nesting_depth(text) > max_event_depth) return 0;  // refused unparsed
    const nlohmann::json ev = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (ev.is_discarded() || !ev.is_object()) return 0;
    (void)ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    static const nlohmann::json defaults =
        ava::sim::detail::default_session("gpt-realtime", "marin");
    if (const auto it = ev.find("session"); it != ev.end()) {
        if (!ava::sim::detail::validate_session_update(*it, defaults)) {
            nlohmann::json effective = defaults;
            ava::sim::detail::merge_session(effective, *it);
            // A merged session must still be one the simulator accepts as a whole.
            (void)ava::sim::detail::validate_session_update(effective, defaults);
        }
    }
    if (const auto it = ev.find("response"); it != ev.end()) {
        (void)ava::sim::detail::validate_response_overrides(*it);
    }
    return 0;
}
