// The history side of a run (private to src/app/run*.cpp): opens the store (unless incognito),
// gives the model the recent past and the remembered facts (unless --no-memory), offers the
// memory tools, and records the session from the session's callbacks through the writer thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ava/app/config.hpp"
#include "ava/history/store.hpp"
#include "ava/history/writer.hpp"
#include "ava/realtime/conversation_types.hpp"
#include "ava/session.hpp"
#include "ava/tools/registry.hpp"

namespace ava::app {

class history_recorder {
  public:
    /// Opens the store on the calling thread (main, before the session starts). `warn` hears
    /// every problem; none of them stops the run.
    history_recorder(const config& cfg, std::function<void(const std::string&)> warn);
    ~history_recorder();  ///< commits what is queued (bounded), then closes
    history_recorder(const history_recorder&) = delete;
    history_recorder& operator=(const history_recorder&) = delete;

    /// The store is open and this run is being kept.
    [[nodiscard]] bool recording() const noexcept { return session_id_ != 0; }
    /// Memory is on for this run (the store is open and --no-memory was not given).
    [[nodiscard]] bool memory() const noexcept { return memory_; }
    /// One line for the banner: where the history goes and what was remembered.
    [[nodiscard]] std::string describe() const;

    /// The recent past as memory lines, the remembered facts in the instructions, and the
    /// context pruning setting.
    void apply(realtime::conversation_options& o);
    /// remember and search_history, when memory is on.
    void register_tools(tools::registry& reg) const;

    // From the session's callbacks (io thread): queue only.
    void on_transcript(const transcript_line& t);
    void on_tool(const tool_event& e);
    void on_status(realtime::conv_status s);
    /// The session ended: its figures.
    void finish(const realtime::session_summary& s);

  private:
    const config& cfg_;
    std::shared_ptr<history::store> db_;
    std::unique_ptr<history::writer> writer_;
    std::int64_t session_id_ = 0;
    bool memory_ = false;
    std::size_t seeded_lines_ = 0;
    std::size_t facts_ = 0;
    bool reconnecting_ = false;
};

}  // namespace ava::app
