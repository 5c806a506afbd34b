// libFuzzer target: the TOML config loader (include/ava/app/config.hpp) on a config file's
// text, through the public load_config() as `--config FILE` reads it, with no environment and
// no flags. A bad file must be refused with ava::config_error (one line naming file, line and
// column); anything else escaping is a finding. The file is one per process, rewritten for
// each input.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

#include "ava/app/config.hpp"
#include "ava/core/error.hpp"

namespace {

// Removed when the fuzzer exits normally (a crash leaves it, next to the crash file's input).
struct temp_file {
    std::filesystem::path path;
    ~temp_file() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
};

const std::filesystem::path& config_file() {
    static const temp_file f{std::filesystem::temp_directory_path() /
                             ("ava-config-fuzz-" + std::to_string(::getpid()) + ".toml")};
    return f.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    {
        std::ofstream out(config_file(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    ava::app::config_sources sources;
    sources.explicit_file = config_file();
    sources.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    try {
        const ava::app::loaded_config loaded = ava::app::load_config(sources);
        (void)ava::app::to_toml(loaded, true);
    } catch (const ava::config_error&) {
        // refused with a message: what ava-voice prints before exiting 2
    }
    return 0;
}
