// Scenarios: what the simulated model says, turn by turn (private to the simulator).
//
// A scenario file is TOML (.toml) or JSON (anything else); both map to the same structure, which
// docs/simulator.md documents with examples. Loading is strict: an unknown key or a wrong type is
// an error naming the key, so a typo never silently changes a test.
#pragma once

#include <string>
#include <vector>

#include "ava/sim/server.hpp"

namespace ava::sim::detail {

/// A function call the model makes.
struct scenario_call {
    std::string name;
    std::string arguments = "{}";  ///< JSON text (objects in the file are serialised)
};

/// One user turn and the model's answer to it.
struct scenario_turn {
    std::string user;   ///< expected user text; also the late input transcript ("" = unknown)
    std::string reply;  ///< spoken reply (with calls: an optional preamble before them)
    std::vector<scenario_call> calls;  ///< function calls the model makes this turn
    /// The reply after the client returned the function outputs; "{output:NAME}" is replaced
    /// by the output the client sent for the call to NAME.
    std::string followup;
    std::vector<fault> faults;  ///< turn = this turn's number
};

struct scenario {
    std::string name = "built-in";
    std::vector<scenario_turn> turns;
    /// When the turns run out: true = start again at turn 1, false = answer `generic_reply`.
    bool loop = false;
    std::string generic_reply =
        "I am the ava simulator and my script has run out, but I am still listening.";
};

/// The built-in scenario: greets, answers twice, then gives the generic reply.
scenario default_scenario();

/// Loads a scenario file. Throws std::runtime_error("scenario FILE: ...") on any problem.
scenario load_scenario(const std::string& path);

/// Parses scenario JSON text (also used for TOML after conversion). Throws std::runtime_error.
scenario parse_scenario_json(const std::string& text, const std::string& origin);

/// Replaces every "{output:NAME}" in `text` by outputs[NAME] (unknown names are left alone).
std::string substitute_outputs(const std::string& text,
                               const std::vector<std::pair<std::string, std::string>>& outputs);

}  // namespace ava::sim::detail
