#include "ava/realtime/events.hpp"

#include <type_traits>

namespace ava::realtime {
namespace {

template <class E>
constexpr std::string_view type_name_of() noexcept {
    if constexpr (std::is_same_v<E, unknown_event>) {
        return "unknown";
    } else if constexpr (std::is_same_v<E, decode_error>) {
        return "decode_error";
    } else {
        return E::type;
    }
}

}  // namespace

std::string_view type_of(const client_event& ev) noexcept {
    return std::visit([](const auto& e) { return type_name_of<std::decay_t<decltype(e)>>(); }, ev);
}

std::string_view type_of(const server_event& ev) noexcept {
    return std::visit([](const auto& e) { return type_name_of<std::decay_t<decltype(e)>>(); }, ev);
}

}  // namespace ava::realtime
