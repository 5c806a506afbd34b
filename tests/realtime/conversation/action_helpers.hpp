// What the conversation tests read out of drained actions: the actions of one kind, and the
// client events of one type that were sent.
#pragma once

#include <vector>

#include "ava/realtime/conversation.hpp"

namespace ava::realtime::test {

template <class T>
std::vector<T> of(const std::vector<action>& acts) {
    std::vector<T> out;
    for (const action& a : acts) {
        if (const T* p = std::get_if<T>(&a)) out.push_back(*p);
    }
    return out;
}

/// Client events of type E sent, in order.
template <class E>
std::vector<E> sent(const std::vector<action>& acts) {
    std::vector<E> out;
    for (const act::send& s : of<act::send>(acts)) {
        if (const E* p = std::get_if<E>(&s.event)) out.push_back(*p);
    }
    return out;
}

}  // namespace ava::realtime::test
