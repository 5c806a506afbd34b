// The audio side of a run: the bundled sample speech, whether the machine has sound, and the
// echo stage for a real device.
#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "ava/audio/devices.hpp"
#include "ava/audio/echo_canceller.hpp"
#include "ava/audio/speexdsp.hpp"
#include "run_parts.hpp"

namespace ava::app {

namespace fs = std::filesystem;

/// The bundled sample speech: next to the sources (a build tree), or installed.
std::optional<fs::path> find_sample(const config& cfg, const std::string& name) {
    std::vector<fs::path> dirs;
    if (cfg.environment.samples_dir) dirs.emplace_back(*cfg.environment.samples_dir);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share/ava-voice/samples");
    dirs.emplace_back(AVA_INSTALL_SAMPLES_DIR);
    dirs.emplace_back(AVA_SOURCE_SAMPLES_DIR);
    for (const auto& d : dirs) {
        if (fs::exists(d / name, ec)) return d / name;
    }
    return std::nullopt;
}

bool machine_has_sound() {
    try {
        const auto devices = audio::list_devices();
        const bool in = std::any_of(devices.begin(), devices.end(),
                                    [](const auto& d) { return d.max_input_channels > 0; });
        const bool out = std::any_of(devices.begin(), devices.end(),
                                     [](const auto& d) { return d.max_output_channels > 0; });
        return in && out;
    } catch (const std::exception&) {
        return false;
    }
}

audio::processing_options processing_from(const config& cfg, bool real_device) {
    audio::processing_options o;
    // A headless WAV run processes only what was asked for (echo aec or gate, noise or gain
    // on), so the tests and benchmarks hear their files as they are: `auto` means off there.
    const echo_mode echo =
        !real_device && cfg.audio.echo == echo_mode::automatic ? echo_mode::off : cfg.audio.echo;
    switch (echo) {
        case echo_mode::automatic:
            o.echo = audio::echo_handling::automatic;
            break;
        case echo_mode::aec:
            o.echo = audio::echo_handling::aec;
            break;
        case echo_mode::gate:
            o.echo = audio::echo_handling::gate;
            break;
        case echo_mode::off:
            o.echo = audio::echo_handling::off;
            break;
    }
    o.noise = cfg.audio.noise;
    o.gain = cfg.audio.gain;
    o.high_pass = cfg.audio.high_pass && (o.echo != audio::echo_handling::off || o.noise || o.gain);
    return o;
}

std::unique_ptr<audio::dsp_stage> echo_stage(const config& cfg, bool real_device,
                                             ui_renderer& con) {
    audio::processing_options o = processing_from(cfg, real_device);
    const bool needs_speex = o.echo == audio::echo_handling::aec ||
                             o.echo == audio::echo_handling::automatic || o.noise || o.gain;
    if (needs_speex && !audio::speexdsp_available()) {
        if (o.echo != audio::echo_handling::automatic || o.noise || o.gain) {
            throw std::runtime_error(
                std::string("audio processing needs speexdsp, which could not be loaded: ") +
                audio::speexdsp_error() +
                " (it is in the libspeexdsp1 package; or choose --echo gate|off, --noise off, "
                "--gain off)");
        }
        con.warning(std::string("echo cancellation is unavailable (") + audio::speexdsp_error() +
                    "); muting the microphone while the assistant speaks instead, so you cannot "
                    "interrupt it by voice (headphones and --echo off give full barge-in)");
        o.echo = audio::echo_handling::gate;
    }
    return audio::make_audio_processor(o);
}

std::optional<audio::echo_room_options> room_from(const config& cfg) {
    if (cfg.audio.room.empty()) return std::nullopt;
    return audio::parse_echo_room(cfg.audio.room);  // checked when the config was read
}

}  // namespace ava::app
