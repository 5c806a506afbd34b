# ava_codec: typed Realtime events <-> GA wire JSON, base64 PCM (OpenSSL EVP). The only target
# that compiles nlohmann/json, and only in codec.cpp (PRIVATE: no JSON type in any header).
add_library(ava_codec STATIC
    ${CMAKE_CURRENT_LIST_DIR}/codec.cpp
    ${CMAKE_CURRENT_LIST_DIR}/events.cpp)
target_link_libraries(ava_codec
    PUBLIC ava_core
    PRIVATE nlohmann_json::nlohmann_json OpenSSL::Crypto)
ava_set_warnings(ava_codec)
