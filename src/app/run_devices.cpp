// The audio side of a run: the bundled sample speech, whether the machine has sound, and the
// echo stage for a real device.
#include <algorithm>
#include <exception>
#include <vector>

#include "ava/audio/devices.hpp"
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

std::unique_ptr<audio::dsp_stage> echo_stage(const config& cfg, bool real_device,
                                             ui_renderer& con) {
    if (!real_device || cfg.audio.echo == echo_mode::off) {
        return std::make_unique<audio::identity_dsp>();
    }
    if (cfg.audio.echo == echo_mode::aec) {
        con.warning(
            "echo cancellation is not built into this version; gating the microphone "
            "while the assistant speaks instead (use headphones for full barge-in)");
    }
    return std::make_unique<audio::energy_gate_dsp>();
}

}  // namespace ava::app
