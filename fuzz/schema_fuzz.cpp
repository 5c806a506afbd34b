// libFuzzer target: the tool-argument schema validator (src/tools/schema.cpp). The input is a
// schema, a newline, and the arguments to check against it (what a model sends). A schema that
// is refused must be refused with ava::config_error; validate() must never throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ava/core/error.hpp"
#include "ava/tools/schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::size_t nl = text.find('\n');
    const std::string_view schema = text.substr(0, nl);
    const std::string_view args = nl == std::string_view::npos ? "{}" : text.substr(nl + 1);
    try {
        const ava::tools::json_schema s(schema);
        (void)s.validate(args);
    } catch (const ava::config_error&) {
        // refused with a message: what the registry reports as "not offered"
    }
    return 0;
}
