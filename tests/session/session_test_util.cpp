#include "session_test_util.hpp"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "ava/realtime/provider.hpp"
#include "test_certs.hpp"

namespace ava::it {

namespace {

const test::test_certs& certs() {
    static const test::test_certs c = test::make_test_certs(test::make_temp_dir("ava-it-certs-"));
    return c;
}

}  // namespace

const std::string& ca_file() {
    return certs().ca_cert;
}
const std::string& server_cert() {
    return certs().server_cert;
}
const std::string& server_key() {
    return certs().server_key;
}

std::unique_ptr<audio::wav_device> wav(const std::string& in, const std::string& out,
                                       audio::wav_pacing pacing) {
    audio::wav_device_options o;
    o.input_path = in;
    o.output_path = out;
    o.pacing = pacing;
    return audio::open_wav_device(o);
}

std::vector<json> sim_received(const std::string& events_file, const sim::summary& sum,
                               std::size_t index, const std::string& type) {
    std::vector<json> out;
    if (index >= sum.per_session.size()) return out;
    for (const json& j : read_jsonl(events_file)) {
        if (j.value("dir", "") == "in" && j.value("session", "") == sum.per_session[index].id &&
            j.value("type", "") == type) {
            out.push_back(j["event"]);
        }
    }
    return out;
}

std::string temp_dir() {
    return test::make_temp_dir("ava-it-");
}

pcm read_wav(const std::string& path, int* channels) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) throw std::runtime_error("cannot read " + path);
    pcm out(static_cast<std::size_t>(info.frames) * static_cast<std::size_t>(info.channels));
    const sf_count_t got = sf_readf_short(f, out.data(), info.frames);
    sf_close(f);
    out.resize(static_cast<std::size_t>(got) * static_cast<std::size_t>(info.channels));
    if (channels != nullptr) *channels = info.channels;
    return out;
}

void write_wav(const std::string& path, const pcm& samples, int channels) {
    SF_INFO info{};
    info.samplerate = 24000;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    sf_writef_short(f, samples.data(), static_cast<sf_count_t>(samples.size()) / channels);
    sf_close(f);
}

pcm speech(double from_s, double to_s) {
    static const pcm all = read_wav(std::string(AVA_SOURCE_DIR) + "/samples/lights.wav");
    const auto a = std::min(all.size(), static_cast<std::size_t>(from_s * 24000));
    const auto b = std::min(all.size(), static_cast<std::size_t>(to_s * 24000));
    return pcm(all.begin() + static_cast<std::ptrdiff_t>(a),
               all.begin() + static_cast<std::ptrdiff_t>(b));
}

pcm silence(int ms) {
    return pcm(static_cast<std::size_t>(ms) * 24, 0);
}

pcm concat(std::initializer_list<pcm> parts) {
    pcm out;
    for (const pcm& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<json> read_jsonl(const std::string& path) {
    std::vector<json> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        out.push_back(json::parse(line));
    }
    return out;
}

std::string write_scenario(const std::string& dir, const json& scenario) {
    const std::string path = dir + "/scenario.json";
    std::ofstream(path) << scenario.dump(2);
    return path;
}

sim::options sim_options(const std::string& dir) {
    sim::options o;
    o.tls_cert_file = server_cert();
    o.tls_key_file = server_key();
    o.pace = 40;
    o.quiet = true;
    o.events_file = dir + "/sim-events.jsonl";
    return o;
}

session_options session_options_for(const sim::server& srv, const std::string& key) {
    session_options o;
    o.connection.target.provider = "custom";
    o.connection.target.url = realtime::parse_url(srv.url());
    if (!key.empty()) o.connection.target.headers = {{"Authorization", "Bearer " + key}};
    o.connection.ca_file = ca_file();
    o.connection.proxy = "";  // never through a proxy from the environment
    o.conversation.session.input_transcription =
        realtime::transcription{.model = "gpt-4o-mini-transcribe"};
    o.conversation.reconnect.initial = std::chrono::milliseconds(50);
    o.conversation.reconnect.jitter = 0;
    o.conversation.transcript_wait = std::chrono::milliseconds(2000);
    o.linger = std::chrono::milliseconds(400);
    return o;
}

// ---- observer ----------------------------------------------------------------------------------

session_callbacks observer::callbacks() {
    session_callbacks c;
    c.on_transcript = [this](const transcript_line& l) {
        if (!l.final) return;
        {
            std::lock_guard lk(m_);
            finals_.push_back(l);
        }
        cv_.notify_all();
    };
    c.on_audio = [this](std::string_view item, core::pcm_view p) {
        bool first = false;
        {
            std::lock_guard lk(m_);
            auto [it, fresh] = audio_.try_emplace(std::string(item));
            it->second.insert(it->second.end(), p.begin(), p.end());
            if (fresh) audio_order_.emplace_back(item);
            first = fresh;
        }
        if (first && on_first_audio) on_first_audio(std::string(item));
        cv_.notify_all();
    };
    c.on_tool = [this](const tool_event& t) {
        {
            std::lock_guard lk(m_);
            tools_.push_back(t);
        }
        cv_.notify_all();
    };
    c.on_notice = [this](std::string_view text, bool warning) {
        {
            std::lock_guard lk(m_);
            notices_.emplace_back(std::string(text), warning);
        }
        cv_.notify_all();
    };
    c.on_interrupted = [this] {
        {
            std::lock_guard lk(m_);
            ++interrupted_;
        }
        cv_.notify_all();
    };
    return c;
}

std::vector<std::string> observer::lines() const {
    std::lock_guard lk(m_);
    std::vector<std::string> out;
    for (const transcript_line& l : finals_) {
        out.push_back((l.role == realtime::speaker::user ? "You: " : "AVA: ") + l.text);
    }
    return out;
}

std::vector<transcript_line> observer::finals() const {
    std::lock_guard lk(m_);
    return finals_;
}
std::vector<tool_event> observer::tool_events() const {
    std::lock_guard lk(m_);
    return tools_;
}
std::vector<std::pair<std::string, bool>> observer::notices() const {
    std::lock_guard lk(m_);
    return notices_;
}
pcm observer::audio_of(const std::string& item_id) const {
    std::lock_guard lk(m_);
    auto it = audio_.find(item_id);
    return it == audio_.end() ? pcm{} : it->second;
}
std::vector<std::string> observer::audio_items() const {
    std::lock_guard lk(m_);
    return audio_order_;
}
int observer::interruptions() const {
    std::lock_guard lk(m_);
    return interrupted_;
}

bool observer::wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, timeout, pred);
}

bool observer::wait_for_assistant(const std::string& text, std::chrono::milliseconds timeout) {
    return wait(
        [&] {
            for (const transcript_line& l : finals_) {
                if (l.role == realtime::speaker::assistant &&
                    (l.text + " " + l.unheard).find(text) != std::string::npos) {
                    return true;
                }
            }
            return false;
        },
        timeout);
}

void expect_clean_event_log(const std::string& path) {
    const std::string text = read_file(path);
    ASSERT_FALSE(text.empty()) << path;
    // Base64 audio would show up as a long run of base64 characters.
    std::size_t run = 0;
    std::size_t longest = 0;
    for (const char c : text) {
        const bool b64 = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
        run = b64 ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    EXPECT_LT(longest, 120u) << "audio payload in " << path;
    std::int64_t last = 0;
    int appends = 0;
    int deltas = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        json j;
        ASSERT_NO_THROW(j = json::parse(line)) << line.substr(0, 200);
        ASSERT_TRUE(j.contains("t_mono_us") && j["t_mono_us"].is_number_integer()) << line;
        const auto t = j["t_mono_us"].get<std::int64_t>();
        EXPECT_GE(t, last) << "t_mono_us went back: " << line.substr(0, 200);
        last = t;
        ASSERT_TRUE(j.contains("dir") && j.contains("type") && j.contains("event")) << line;
        const std::string dir = j["dir"];
        EXPECT_TRUE(dir == "send" || dir == "recv" || dir == "local") << dir;
        const std::string type = j["type"];
        if (type == "input_audio_buffer.append") {
            ++appends;
            EXPECT_NE(j["event"]["audio"].get<std::string>().find("bytes>"), std::string::npos);
        }
        if (type == "response.output_audio.delta") {
            ++deltas;
            EXPECT_NE(j["event"]["delta"].get<std::string>().find("bytes>"), std::string::npos);
        }
    }
    EXPECT_GT(deltas, 0) << "no audio deltas logged in " << path;
    (void)appends;
}

}  // namespace ava::it
