# AVA_SANITIZE="address;undefined" or "thread": applied to every target we build.
if(AVA_SANITIZE)
    list(JOIN AVA_SANITIZE "," _ava_san)
    message(STATUS "ava: sanitizers ${_ava_san}")
    add_compile_options(-fsanitize=${_ava_san} -fno-sanitize-recover=all -fno-omit-frame-pointer)
    add_link_options(-fsanitize=${_ava_san})
    # GCC 12 reports false "may be used uninitialized" warnings through std::optional moves
    # once ASan's instrumentation is inlined (seen in tests/realtime/conversation); with
    # warnings as errors that would fail the sanitized build, not the code.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        add_compile_options(-Wno-maybe-uninitialized)
    endif()
endif()
