# ava_connection: the Realtime WebSocket client (TLS, proxy, single writer) and the provider
# endpoints. connection.cpp is the one client TU that instantiates Beast's TLS WebSocket.
add_library(ava_connection STATIC
    ${CMAKE_CURRENT_LIST_DIR}/connection.cpp
    ${CMAKE_CURRENT_LIST_DIR}/connection_policy.cpp
    ${CMAKE_CURRENT_LIST_DIR}/provider.cpp)
target_include_directories(ava_connection PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(ava_connection PUBLIC ava_core PRIVATE ava_asio)
ava_set_warnings(ava_connection)
