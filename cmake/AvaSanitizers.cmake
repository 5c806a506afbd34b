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
        # GCC 12 warns that ThreadSanitizer does not model std::atomic_thread_fence (-Wtsan),
        # for Boost.Asio's std_fenced_block in every TU that posts to an io_context and for the
        # engine's seqlock. Neither fence orders non-atomic data that TSan would report: Asio's
        # handler queues are also guarded by a mutex, and every field the seqlock publishes is
        # an atomic. So the warning is noise here, not a missed race, and must not fail -Werror.
        if("thread" IN_LIST AVA_SANITIZE)
            add_compile_options(-Wno-tsan)
        endif()
    endif()
endif()
