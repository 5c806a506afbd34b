// ava-realtime-sim: fault injection (session.hpp): the faults configured for the server or the
// current turn, fired before the nth event of a type; and parse_fault (the --fault syntax).
#include "session.hpp"

#include <charconv>
#include <sstream>
#include <stdexcept>

namespace ava::sim::detail {

void session::run_faults(const std::string& type) {
    const int count = ++turn_event_counts_[type];
    auto matches = [&](const fault& f, bool from_turn) {
        if (f.at != type || f.nth != count) return false;
        if (f.session != 0 && static_cast<std::size_t>(f.session) != index_ + 1) return false;
        return from_turn || f.turn == 0 || f.turn == turn_number_;
    };
    std::vector<fault> firing;
    for (const fault& f : st_.opts.faults)
        if (matches(f, false)) firing.push_back(f);
    for (const fault& f : turn_faults_)
        if (matches(f, true)) firing.push_back(f);
    for (const fault& f : firing) inject(f);
}

void session::inject(const fault& f) {
    st_.log->info("sim {}: injecting fault {} before {} #{} (turn {})", id_, f.kind, f.at, f.nth,
                  turn_number_);
    st_.update(index_, [&](summary& s, session_summary& ss) {
        s.faults_injected++;
        ss.faults_injected++;
        ss.faults.push_back(f.kind);
    });
    st_.write_raw_event("fault", id_, f.kind,
                        {{"at", f.at}, {"nth", f.nth}, {"turn", turn_number_}});
    if (f.kind == "close") {
        summary_reason_ = "fault: close";
        if (f.abrupt)
            enqueue({.k = out_msg::kind::abort});
        else
            enqueue({.k = out_msg::kind::close,
                     .code = static_cast<std::uint16_t>(f.code),
                     .reason = f.reason});
    } else if (f.kind == "malformed_json") {
        enqueue({.text = R"({"type":"response.output_audio.delta","delta":"AAAA",)"});
    } else if (f.kind == "unknown_event") {
        json ev = {{"type", "sim.unknown_event"},
                   {"event_id", random_id("event_")},
                   {"note", "an event type no client knows"}};
        st_.write_event("out", id_, ev);
        enqueue({.text = ev.dump()});
    } else if (f.kind == "oversized_frame") {
        std::string frame =
            R"({"type":"sim.oversized","event_id":")" + random_id("event_") + R"(","padding":")";
        const std::size_t tail = 2;
        if (f.bytes > frame.size() + tail) frame.append(f.bytes - frame.size() - tail, 'A');
        frame += "\"}";
        st_.write_raw_event("out", id_, "sim.oversized", {{"bytes", frame.size()}});
        enqueue({.text = std::move(frame)});
    } else if (f.kind == "stall") {
        enqueue({.k = out_msg::kind::stall, .ms = f.ms});
    } else if (f.kind == "server_error") {
        // The real service's transient failure shape; the session goes on.
        json err = {{"type", "server_error"},
                    {"code", nullptr},
                    {"message",
                     "The server had an error while processing your request. Sorry about "
                     "that! (injected by the simulator)"},
                    {"param", nullptr},
                    {"event_id", nullptr}};
        json ev = {{"type", "error"}, {"event_id", random_id("event_")}, {"error", err}};
        st_.write_event("out", id_, ev);
        enqueue({.text = ev.dump()});
        st_.update(index_, [&](summary& s, session_summary& ss) {
            s.errors_sent++;
            ss.errors_sent++;
            ss.error_codes.push_back("server_error");
        });
    }
}

}  // namespace ava::sim::detail

namespace ava::sim {

fault parse_fault(const std::string& spec) {
    fault f;
    std::istringstream in(spec);
    for (std::string kv; std::getline(in, kv, ',');) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos)
            throw std::invalid_argument("fault: '" + kv + "' is not key=value");
        const std::string k = kv.substr(0, eq);
        const std::string v = kv.substr(eq + 1);
        auto number = [&]() -> long long {
            long long n = 0;
            const auto [ptr, err] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (err != std::errc() || ptr != v.data() + v.size())
                throw std::invalid_argument("fault: '" + k + "' needs a number, not '" + v + "'");
            return n;
        };
        if (k == "kind")
            f.kind = v;
        else if (k == "turn")
            f.turn = static_cast<int>(number());
        else if (k == "session")
            f.session = static_cast<int>(number());
        else if (k == "at")
            f.at = v;
        else if (k == "nth")
            f.nth = static_cast<int>(number());
        else if (k == "code")
            f.code = static_cast<int>(number());
        else if (k == "reason")
            f.reason = v;
        else if (k == "abrupt")
            f.abrupt = v == "1" || v == "true" || v == "yes";
        else if (k == "ms")
            f.ms = static_cast<int>(number());
        else if (k == "bytes")
            f.bytes = static_cast<std::size_t>(number());
        else
            throw std::invalid_argument("fault: unknown key '" + k + "'");
    }
    static const char* kinds[] = {"close",           "malformed_json", "unknown_event",
                                  "oversized_frame", "stall",          "server_error"};
    bool ok = false;
    for (const char* k : kinds) ok = ok || f.kind == k;
    if (!ok)
        throw std::invalid_argument(
            "fault: kind must be one of close, malformed_json, unknown_event, oversized_frame, "
            "stall, server_error");
    if (f.nth < 1) throw std::invalid_argument("fault: nth must be >= 1");
    if (f.session < 0) throw std::invalid_argument("fault: session must be >= 0");
    return f;
}

}  // namespace ava::sim
