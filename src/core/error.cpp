#include "ava/core/error.hpp"

namespace ava {
namespace {

class category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "ava"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::ok:
                return "success";
            case errc::bad_config:
                return "invalid configuration";
            case errc::protocol:
                return "protocol violation";
            case errc::auth_failed:
                return "authentication failed (check the API key)";
            case errc::not_found:
                return "endpoint or model not found";
            case errc::quota:
                return "insufficient quota";
            case errc::timed_out:
                return "timed out";
            case errc::closed:
                return "connection closed";
            case errc::no_device:
                return "no audio device available";
            case errc::device_failed:
                return "audio device failed";
        }
        return "unknown ava error";
    }
};

}  // namespace

const std::error_category& ava_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace ava
