// The parts of a run (private to src/app/run*.cpp): the conversation options from the config
// (run_options.cpp), the audio side (run_devices.cpp) and the summary (run_summary.cpp).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "ava/app/config.hpp"
#include "ava/app/ui.hpp"
#include "ava/audio/dsp.hpp"
#include "ava/audio/echo_room.hpp"
#include "ava/session.hpp"

namespace ava::app {

/// The conversation's options (session.update, frames, reconnects, prices) for `cfg`.
realtime::conversation_options conversation_from(const config& cfg);

/// The bundled sample speech: in AVA_SAMPLES_DIR (as the loader passed it on), next to the
/// sources (a build tree), or installed.
std::optional<std::filesystem::path> find_sample(const config& cfg, const std::string& name);
/// True when PortAudio lists at least one input and one output device.
bool machine_has_sound();
/// The DSP stage for the mic: an energy gate against echo on a real device unless echo is off.
/// The DSP stage between capture and send (echo, noise, gain; see audio/echo_canceller.hpp).
/// Throws std::runtime_error when a setting needs speexdsp and it is missing.
std::unique_ptr<audio::dsp_stage> echo_stage(const config& cfg, bool real_device, ui_renderer& con);
/// The echo rig for WAV runs (audio.room), if any.
std::optional<audio::echo_room_options> room_from(const config& cfg);

/// The end-of-session summary as lines of text.
std::string summary_text(const realtime::session_summary& s, const audio::engine_stats& a,
                         const audio::dsp_report& p = {});

}  // namespace ava::app
