# ava_codec: typed Realtime events <-> GA wire JSON, the client's direction (codec.hpp), and
# base64 PCM (core::base64). nlohmann/json is compiled only in the codec's own sources and is
# PRIVATE: no JSON type in any public header. codec_json.hpp and codec_shapes.hpp are private
# headers shared with ava_codec_peer.
add_library(ava_codec STATIC
    ${CMAKE_CURRENT_LIST_DIR}/codec.cpp
    ${CMAKE_CURRENT_LIST_DIR}/codec_json.cpp
    ${CMAKE_CURRENT_LIST_DIR}/codec_shapes.cpp
    ${CMAKE_CURRENT_LIST_DIR}/events.cpp)
target_link_libraries(ava_codec
    PUBLIC ava_core
    PRIVATE nlohmann_json::nlohmann_json)
ava_set_warnings(ava_codec)

# ava_codec_peer: the server's direction (codec_peer.hpp: encode server events, decode client
# events), for the codec tests and the bench. ava-voice does not link it.
add_library(ava_codec_peer STATIC
    ${CMAKE_CURRENT_LIST_DIR}/codec_peer.cpp)
target_link_libraries(ava_codec_peer
    PUBLIC ava_codec
    PRIVATE nlohmann_json::nlohmann_json)
ava_set_warnings(ava_codec_peer)
