// Helpers for the end-to-end tests: ava::session against ava::sim::server over real TLS on
// loopback, with WAV devices. Nothing is mocked: the sim is a real WebSocket server, the
// session a real client, the audio goes through the real engine and WAV device.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ava/audio/wav_device.hpp"
#include "ava/session.hpp"
#include "ava/sim/server.hpp"

namespace ava::it {

using json = nlohmann::json;
using pcm = std::vector<std::int16_t>;

/// The test CA and server certificate (made once per process).
const std::string& ca_file();
const std::string& server_cert();
const std::string& server_key();

/// A fresh temporary directory for one test.
std::string temp_dir();

/// A WAV device reading `in` (empty: silence) and writing `out`.
std::unique_ptr<audio::wav_device> wav(const std::string& in, const std::string& out,
                                       audio::wav_pacing pacing);
/// Client events the simulator received from session number `index` (0-based).
std::vector<json> sim_received(const std::string& events_file, const sim::summary& sum,
                               std::size_t index, const std::string& type);

// ---- audio files -------------------------------------------------------------------------------
pcm read_wav(const std::string& path, int* channels = nullptr);
void write_wav(const std::string& path, const pcm& samples, int channels = 1);
/// Speech from the bundled sample (samples/lights.wav, "turn on the lights"), seconds
/// [from, to) of it. Speech runs from 0.3 s to 2.0 s.
pcm speech(double from_s = 0.25, double to_s = 2.05);
pcm silence(int ms);
pcm concat(std::initializer_list<pcm> parts);

// ---- files -------------------------------------------------------------------------------------
std::string read_file(const std::string& path);
std::vector<json> read_jsonl(const std::string& path);
/// Writes a scenario (JSON) and returns its path.
std::string write_scenario(const std::string& dir, const json& scenario);

// ---- the simulator
// -------------------------------------------------------------------------------
/// Options for a TLS simulator on an ephemeral port, quiet, fast (pace 40).
sim::options sim_options(const std::string& dir);

/// Session options that connect to `srv` with `key`, trust the test CA (verification on), ask
/// for input transcription, and reconnect quickly (50 ms first delay).
session_options session_options_for(const sim::server& srv, const std::string& key);

// ---- what the callbacks saw
// ----------------------------------------------------------------------
class observer {
  public:
    /// Callbacks that record into this observer (it must outlive the session).
    session_callbacks callbacks();

    /// Final transcript lines as "You: ..." / "AVA: ..." in the order they were emitted.
    std::vector<std::string> lines() const;
    std::vector<transcript_line> finals() const;
    std::vector<tool_event> tool_events() const;
    std::vector<std::pair<std::string, bool>> notices() const;
    /// Assistant audio received per item, and the items in order of their first audio.
    pcm audio_of(const std::string& item_id) const;
    std::vector<std::string> audio_items() const;
    int interruptions() const;

    /// Waits until `pred` (called under the observer's lock) holds.
    bool wait(const std::function<bool()>& pred,
              std::chrono::milliseconds timeout = std::chrono::seconds(15));
    /// Waits for a final assistant line containing `text`.
    bool wait_for_assistant(const std::string& text,
                            std::chrono::milliseconds timeout = std::chrono::seconds(15));

    /// Called (on the io thread) with each item's first audio delta.
    std::function<void(const std::string& item_id)> on_first_audio;

  private:
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::vector<transcript_line> finals_;
    std::vector<tool_event> tools_;
    std::vector<std::pair<std::string, bool>> notices_;
    std::map<std::string, pcm> audio_;
    std::vector<std::string> audio_order_;
    int interrupted_ = 0;
};

/// Checks an events JSONL file: every line has an integer t_mono_us (never decreasing), a dir,
/// a type and an event; no audio payload is in it (no long base64 run); audio events are there
/// with their sizes noted instead. Reports failures with gtest.
void expect_clean_event_log(const std::string& path);

}  // namespace ava::it
