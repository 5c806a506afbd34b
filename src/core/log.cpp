#include "ava/core/log.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "ava/core/error.hpp"
#include "ava/core/text.hpp"

namespace ava::log {
namespace {

constexpr std::string_view redacted = "[redacted]";
/// The longest log line written; the rest is counted (" ... (N bytes more)").
constexpr std::size_t max_line_bytes = 4096;

std::shared_mutex secrets_mutex;
std::vector<std::string> secrets;  // guarded by secrets_mutex

std::mutex sinks_mutex;
std::vector<spdlog::sink_ptr> sinks;  // guarded by sinks_mutex
spdlog::level::level_enum level = spdlog::level::info;

bool token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
           c == '~' || c == '+' || c == '/' || c == '=';
}

bool iequal_at(std::string_view text, std::size_t pos, std::string_view word) {
    if (pos + word.size() > text.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[pos + i])) !=
            std::tolower(static_cast<unsigned char>(word[i]))) {
            return false;
        }
    }
    return true;
}

// Replaces the token that follows `marker` (after separators such as ": ", "=", "\":\"").
void redact_after(std::string& s, std::string_view marker) {
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::size_t hit = std::string::npos;
        for (std::size_t i = pos; i + marker.size() <= s.size(); ++i) {
            if (iequal_at(s, i, marker)) {
                hit = i;
                break;
            }
        }
        if (hit == std::string::npos) return;
        std::size_t v = hit + marker.size();
        const auto word_char = [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
        };
        if (v < s.size() && word_char(s[v]) && word_char(marker.back())) {
            pos = v;  // part of a longer word ("--api-key-env NAME"): not a header, no value
            continue;
        }
        while (v < s.size() && (s[v] == ' ' || s[v] == ':' || s[v] == '=' || s[v] == '"' ||
                                s[v] == '\'' || s[v] == '\t')) {
            ++v;
        }
        if (iequal_at(s, v, "bearer ")) v += 7;
        std::size_t end = v;
        while (end < s.size() && token_char(s[end])) ++end;
        if (end > v && std::string_view(s).substr(v, end - v) != redacted) {
            s.replace(v, end - v, redacted);
            end = v + redacted.size();
        }
        pos = std::max(end, hit + marker.size());
    }
}

// Replaces key-shaped tokens: "sk-" or "ek_" followed by at least 16 token characters.
void redact_key_shapes(std::string& s) {
    for (std::string_view prefix : {std::string_view("sk-"), std::string_view("ek_")}) {
        std::size_t pos = 0;
        while ((pos = s.find(prefix, pos)) != std::string::npos) {
            const bool at_word_start = pos == 0 || !token_char(s[pos - 1]);
            std::size_t end = pos + prefix.size();
            while (end < s.size() && token_char(s[end])) ++end;
            if (at_word_start && end - pos - prefix.size() >= 16) {
                s.replace(pos, end - pos, redacted);
                pos += redacted.size();
            } else {
                pos = end;
            }
        }
    }
}

// A formatter that formats with the usual pattern, then redacts the finished line, so no sink
// (console, file) can ever see a secret whatever the call site logged.
class redacting_formatter final : public spdlog::formatter {
  public:
    explicit redacting_formatter(std::string pattern)
        : pattern_(std::move(pattern)), inner_(pattern_) {}
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        spdlog::memory_buf_t tmp;
        inner_.format(msg, tmp);
        std::string_view line(tmp.data(), tmp.size());
        std::string_view eol;
        if (line.ends_with('\n')) {
            eol = line.substr(line.size() - 1);
            line.remove_suffix(1);
        }
        // Redacted first (a cut must not leave half a key behind), then cut to a size a
        // terminal can show (a server may send a 1 MiB message), then escape sequences and
        // invalid UTF-8 from servers or models made inert.
        const std::string clean = core::printable(core::clip(redact(line), max_line_bytes));
        dest.append(clean.data(), clean.data() + clean.size());
        dest.append(eol.data(), eol.data() + eol.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<redacting_formatter>(pattern_);
    }

  private:
    std::string pattern_;
    spdlog::pattern_formatter inner_;
};

constexpr const char* pattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v";

std::shared_ptr<spdlog::logger> make_logger(const std::string& name) {
    auto lg = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
    lg->set_formatter(std::make_unique<redacting_formatter>(pattern));
    lg->set_level(level);
    lg->flush_on(spdlog::level::warn);
    return lg;
}

void ensure_sinks() {
    if (sinks.empty()) sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
}

}  // namespace

void init(const options& opts) {
    const auto lvl = spdlog::level::from_str(opts.level);
    if (lvl == spdlog::level::off && opts.level != "off") {
        throw config_error("unknown log level '" + opts.level +
                           "' (use trace, debug, info, warn, error, critical or off)");
    }
    std::vector<spdlog::sink_ptr> next;
    if (opts.to_stderr) next.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    if (!opts.file.empty()) {
        try {
            next.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(opts.file));
        } catch (const spdlog::spdlog_ex& e) {
            throw config_error("cannot open log file '" + opts.file + "': " + e.what());
        }
    }
    const std::lock_guard lock(sinks_mutex);
    sinks = std::move(next);
    level = lvl;
    // Re-create every logger already handed out with the new sinks and level.
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& lg) {
        lg->sinks() = sinks;
        lg->set_level(level);
        // New sinks start with spdlog's plain formatter: put the redacting one back on them.
        lg->set_formatter(std::make_unique<redacting_formatter>(pattern));
    });
}

std::shared_ptr<spdlog::logger> get(std::string_view module) {
    const std::string name(module);
    const std::lock_guard lock(sinks_mutex);
    if (auto lg = spdlog::get(name)) return lg;
    ensure_sinks();
    auto lg = make_logger(name);
    spdlog::register_logger(lg);
    return lg;
}

void add_secret(std::string_view secret) {
    if (secret.size() < 4) return;
    const std::unique_lock lock(secrets_mutex);
    if (std::find(secrets.begin(), secrets.end(), secret) == secrets.end()) {
        secrets.emplace_back(secret);
        // Longest first, so a secret that contains another is replaced whole.
        std::sort(secrets.begin(), secrets.end(),
                  [](const auto& a, const auto& b) { return a.size() > b.size(); });
    }
}

std::string redact(std::string_view text) {
    std::string s(text);
    {
        const std::shared_lock lock(secrets_mutex);
        for (const auto& secret : secrets) {
            std::size_t pos = 0;
            while ((pos = s.find(secret, pos)) != std::string::npos) {
                s.replace(pos, secret.size(), redacted);
                pos += redacted.size();
            }
        }
    }
    redact_after(s, "authorization");
    redact_after(s, "api-key");
    redact_after(s, "x-goog-api-key");
    redact_after(s, "bearer ");
    redact_key_shapes(s);
    return s;
}

}  // namespace ava::log
