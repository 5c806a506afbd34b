// Audio device discovery (PortAudio), without exposing PortAudio types.
#pragma once

#include <string>
#include <vector>

namespace ava::audio {

struct device_info {
    int index = -1;
    std::string name;
    std::string host_api;
    int max_input_channels = 0;
    int max_output_channels = 0;
    double default_sample_rate = 0;
    bool default_input = false;
    bool default_output = false;
};

/// Lists the devices PortAudio sees (initialising it quietly: ALSA/JACK chatter on stderr is
/// suppressed). An empty list means no sound system or hardware. Throws std::runtime_error when
/// PortAudio itself cannot start. Call from a normal thread, never from an audio callback.
std::vector<device_info> list_devices();

}  // namespace ava::audio
