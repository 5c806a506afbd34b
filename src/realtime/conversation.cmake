# ava_conversation: the sans-IO conversation state machine and the reconnect backoff.
# No sockets, devices, clocks, threads or JSON: depends on ava_core and the typed events only.
add_library(ava_conversation STATIC
    ${CMAKE_CURRENT_LIST_DIR}/conversation.cpp
    ${CMAKE_CURRENT_LIST_DIR}/conversation_events.cpp
    ${CMAKE_CURRENT_LIST_DIR}/conversation_items.cpp
    ${CMAKE_CURRENT_LIST_DIR}/conversation_link.cpp
    ${CMAKE_CURRENT_LIST_DIR}/conversation_tools.cpp
    ${CMAKE_CURRENT_LIST_DIR}/conversation_turns.cpp
    ${CMAKE_CURRENT_LIST_DIR}/backoff.cpp)
target_include_directories(ava_conversation PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(ava_conversation PUBLIC ava_core)
ava_set_warnings(ava_conversation)
