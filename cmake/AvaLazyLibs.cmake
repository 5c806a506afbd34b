# ava_use_library(<target> <PUBLIC|PRIVATE> <imported target> [SHIM <file.cpp>])
#
# With AVA_LAZY_LIBS=OFF: target_link_libraries(<target> <scope> <imported target>), as always.
#
# With AVA_LAZY_LIBS=ON the library is not linked (no DT_NEEDED entry, so the loader does not map
# it and its dependencies at start; why: include/ava/core/lazy_library.hpp). <target> takes only
# the imported target's include directories (as SYSTEM, like a linked imported target),
# compile definitions and compile options, so the real header still declares what the code
# calls, plus the dynamic loader library. SHIM adds the .cpp that defines the library's functions
# and loads it on first use; a target whose calls are served by another target's shim (ava_run
# calls Pa_Initialize, defined in ava_audio) gives none.
function(ava_use_library target scope imported)
    cmake_parse_arguments(U "" "SHIM" "" ${ARGN})
    if(NOT AVA_LAZY_LIBS)
        target_link_libraries(${target} ${scope} ${imported})
        return()
    endif()
    if(U_SHIM)
        target_sources(${target} PRIVATE ${U_SHIM})
    endif()
    target_include_directories(${target} SYSTEM ${scope}
        $<TARGET_PROPERTY:${imported},INTERFACE_INCLUDE_DIRECTORIES>)
    target_compile_definitions(${target} ${scope}
        $<TARGET_PROPERTY:${imported},INTERFACE_COMPILE_DEFINITIONS>)
    target_compile_options(${target} ${scope}
        $<TARGET_PROPERTY:${imported},INTERFACE_COMPILE_OPTIONS>)
    # The shims resolve through ava_core's lazy_library (dlopen); a static target passes this on.
    target_link_libraries(${target} PRIVATE ava_core ${CMAKE_DL_LIBS})
endfunction()
