// `ava-voice history`: what was said, searchable, exportable and erasable.
//
//   history list [--limit N]          sessions, newest first: id, date, length, turns, cost
//   history show ID                   the transcript, with tool calls and unheard tails marked
//   history search TEXT...            matching lines with dates and a snippet
//   history export ID [--format md|jsonl]
//   history forget ID | forget --all
//   history facts | forget-fact N     what it was asked to remember
//
// Colour only when stdout is a terminal (and ui.color). Exit codes: 0 done, 1 no such session
// or fact / the database cannot be read, 2 bad usage.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "ava/app/config.hpp"

namespace ava::app {

/// The words after `history` that are the command's own (the rest are the usual flags).
struct history_args {
    std::vector<std::string> words;  ///< verb and its operands
    bool all = false;                ///< --all
    std::string format = "md";       ///< --format
    int limit = 50;                  ///< --limit
};

/// Runs the command against cfg.history_path(). Throws ava::config_error for bad usage.
int history_command(const config& cfg, const history_args& args, bool color, std::ostream& out,
                    std::ostream& err);

}  // namespace ava::app
