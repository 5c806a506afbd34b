# Install rules and CPack (.deb, .tar.gz; productbuild/NSIS-ready names on other platforms).
# Included once from the top-level CMakeLists.txt, after the targets exist.
#
#   cmake --install build --prefix /usr/local     the files below, in the usual places
#   cmake --install build --prefix P --component devel   only the library (headers, package)
#   cpack --config build/CPackConfig.cmake -G DEB  ava-voice_<version>_<arch>.deb
include(GNUInstallDirs)

set(_ava_share ${CMAKE_INSTALL_DATADIR}/ava-voice)

foreach(_exe IN ITEMS ava-voice ava-realtime-sim)
    if(TARGET ${_exe})
        install(TARGETS ${_exe} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
    endif()
endforeach()

# run.cpp finds the samples at <prefix>/share/ava-voice/samples relative to the binary.
install(FILES config/ava-voice.example.toml config/instructions.md
        DESTINATION ${_ava_share} COMPONENT runtime)
install(DIRECTORY samples/ DESTINATION ${_ava_share}/samples COMPONENT runtime
        FILES_MATCHING PATTERN "*.wav")
install(DIRECTORY sim/scenarios/ DESTINATION ${_ava_share}/scenarios COMPONENT runtime)
# `ava-voice serve` serves the browser console from here (docs/relay.md).
install(DIRECTORY web/console/ DESTINATION ${_ava_share}/console COMPONENT runtime)
install(FILES packaging/ava-voice.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime OPTIONAL)

# Launchers: the Linux desktop entry and its wrapper everywhere (harmless elsewhere), the macOS
# and Windows ones in share/ava-voice/launchers for those who copy them.
# The desktop entry runs `ava-voice-launcher` from PATH (it finds ava-voice next to itself).
install(PROGRAMS packaging/launchers/ava-voice-launcher.sh RENAME ava-voice-launcher
        DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(FILES packaging/launchers/ava-voice.desktop
        DESTINATION ${CMAKE_INSTALL_DATADIR}/applications COMPONENT runtime)
install(PROGRAMS packaging/launchers/ava-voice.command packaging/launchers/ava-voice.bat
        DESTINATION ${_ava_share}/launchers COMPONENT runtime)

# ---- the library: headers, static libraries and a CMake package (component "devel") ----------
# An outside project builds against the installed prefix with
#   find_package(ava-voice CONFIG REQUIRED)             # -DCMAKE_PREFIX_PATH=<prefix>
#   target_link_libraries(app PRIVATE ava::session)
# ava::session is the facade (include/ava/session.hpp); the static libraries it links are
# exported with it (ava::core, ava::audio, ...) and their system dependencies are found again by
# <prefix>/lib/cmake/ava-voice/ava-voice-config.cmake. tests/install builds examples/ this way.
include(CMakePackageConfigHelpers)
set(_ava_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ava-voice)

# The ava_* libraries `target` links, directly or not, PUBLIC or PRIVATE (a static library's
# private dependencies are linked by its users, so all of them are exported).
function(_ava_library_closure out target)
    set(seen ${${out}})
    get_target_property(libs ${target} LINK_LIBRARIES)
    foreach(lib IN LISTS libs)
        if(NOT TARGET ${lib})
            continue()
        endif()
        get_target_property(aliased ${lib} ALIASED_TARGET)
        if(aliased)
            set(lib ${aliased})
        endif()
        get_target_property(imported ${lib} IMPORTED)
        if(imported OR lib IN_LIST seen)
            continue()
        endif()
        list(APPEND seen ${lib})
        _ava_library_closure(seen ${lib})
    endforeach()
    set(${out} ${seen} PARENT_SCOPE)
endfunction()
set(_ava_exported ava_session ava_history)
_ava_library_closure(_ava_exported ava_session)
_ava_library_closure(_ava_exported ava_history)

# Installed, every library takes its headers from <prefix>/include (INCLUDES DESTINATION below):
# the directories the libraries name for the build (the source tree's include/, the
# usage requirements of a lazily loaded library) are build-only, so neither the source folders
# nor curl reach an outside project's include path.
foreach(_t IN LISTS _ava_exported)
    string(REGEX REPLACE "^ava_" "" _name ${_t})
    set_target_properties(${_t} PROPERTIES EXPORT_NAME ${_name})
    add_library(ava::${_name} ALIAS ${_t})  # the installed names work in the tree too
    set_property(TARGET ${_t} APPEND PROPERTY INTERFACE_COMPILE_FEATURES cxx_std_20)
    foreach(_prop INTERFACE_INCLUDE_DIRECTORIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES)
        get_target_property(_dirs ${_t} ${_prop})
        if(_dirs)
            list(TRANSFORM _dirs REPLACE "^(.+)$" "$<BUILD_INTERFACE:\\1>")
            set_property(TARGET ${_t} PROPERTY ${_prop} ${_dirs})
        endif()
    endforeach()
endforeach()

# What the exported libraries need from the system, found again by the package config: every
# imported target their link interfaces and usage requirements name.
set(_ava_usage "")
foreach(_t IN LISTS _ava_exported)
    foreach(_prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES INTERFACE_COMPILE_DEFINITIONS
                  INTERFACE_COMPILE_OPTIONS)
        get_target_property(_v ${_t} ${_prop})
        if(_v)
            string(APPEND _ava_usage ";${_v}")
        endif()
    endforeach()
endforeach()
string(REGEX MATCHALL "[A-Za-z0-9_]+::[A-Za-z0-9_]+" _ava_imported "${_ava_usage}")
list(REMOVE_DUPLICATES _ava_imported)
list(SORT _ava_imported)
set(_ava_find_boost "find_dependency(Boost 1.74 CONFIG COMPONENTS system)")
set(_ava_find_json "find_dependency(nlohmann_json 3.10 CONFIG)")
set(AVA_PACKAGE_DEPENDENCIES "")
foreach(_dep IN LISTS _ava_imported)
    string(REGEX REPLACE "::.*" "" _ns ${_dep})
    string(REGEX REPLACE ".*::" "" _pkg ${_dep})
    if(_ns STREQUAL "ava")
        continue()
    elseif(_ns STREQUAL "PkgConfig")
        set(_line "_ava_find_pkg(${_pkg} ${${_pkg}_MODULE_NAME})")
    elseif(_ns MATCHES "^(Threads|OpenSSL|CURL)$")
        set(_line "find_dependency(${_ns})")
    elseif(_ns STREQUAL "Boost")
        set(_line ${_ava_find_boost})
    elseif(_ns STREQUAL "nlohmann_json")
        set(_line ${_ava_find_json})
    elseif(_ns STREQUAL "spdlog")
        set(_line "find_dependency(spdlog CONFIG)")
    else()
        message(FATAL_ERROR "AvaPackaging: the exported libraries use ${_dep}; "
                            "say in cmake/AvaPackaging.cmake how the package config finds it")
    endif()
    if(NOT "${_line}" IN_LIST AVA_PACKAGE_DEPENDENCIES)
        list(APPEND AVA_PACKAGE_DEPENDENCIES "${_line}")
    endif()
endforeach()
list(JOIN AVA_PACKAGE_DEPENDENCIES "\n" AVA_PACKAGE_DEPENDENCIES)

install(TARGETS ${_ava_exported} EXPORT ava-voice-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The app's and the simulator's headers (include/ava/app, include/ava/sim) are not part of the
# library.
install(DIRECTORY include/ava DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT devel
        PATTERN app EXCLUDE PATTERN sim EXCLUDE)
install(EXPORT ava-voice-targets NAMESPACE ava:: FILE ava-voice-targets.cmake
        DESTINATION ${_ava_cmake_dir} COMPONENT devel)
configure_package_config_file(cmake/ava-voice-config.cmake.in
    ${PROJECT_BINARY_DIR}/ava-voice-config.cmake INSTALL_DESTINATION ${_ava_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ava-voice-config-version.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ava-voice-config.cmake
              ${PROJECT_BINARY_DIR}/ava-voice-config-version.cmake
        DESTINATION ${_ava_cmake_dir} COMPONENT devel)

# ---- CPack ----
# The packages hold the program (component "runtime"), not the library for embedders.
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};${PROJECT_NAME};runtime;/")
set(CPACK_PACKAGE_NAME ava-voice)
set(CPACK_PACKAGE_VENDOR "ava-voice")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "ava-voice talks to the OpenAI Realtime API (or Azure, or its own offline simulator) over a\n"
    "TLS WebSocket, with PortAudio audio, barge-in with exact truncation, tools, transcripts and\n"
    "a live terminal UI.")
set(CPACK_PACKAGE_CONTACT "ava-voice maintainers <ava-voice@localhost>")
set(CPACK_PACKAGE_INSTALL_DIRECTORY ava-voice)
set(CPACK_RESOURCE_FILE_README ${PROJECT_SOURCE_DIR}/README.md)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_IGNORE_FILES "/build/;/\\\\.git/")
if(NOT CPACK_GENERATOR)
    if(WIN32)
        set(CPACK_GENERATOR ZIP)
    elseif(APPLE)
        set(CPACK_GENERATOR TGZ)
    else()
        set(CPACK_GENERATOR "DEB;TGZ")
    endif()
endif()

# Debian: dpkg-shlibdeps computes Depends from the binaries' NEEDED libraries (libssl3, libsoxr0,
# libsndfile1, libstdc++6, libc6 ...; with AVA_LAZY_LIBS=OFF also libportaudio2, libical3,
# libcurl4, libespeak-ng1), so the package names the exact runtime packages of the distribution
# it was built on.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "pulseaudio | pipewire-pulse, ca-certificates")

# With AVA_LAZY_LIBS, PortAudio, libcurl, libical and espeak-ng are dlopen'ed, not NEEDED, so
# dpkg-shlibdeps cannot see them: name their packages here (CPack appends the shlibdeps result).
# Each is the package that ships the soname on the build machine (as shlibdeps would have found;
# e.g. libcurl4t64 on Ubuntu 24.04), else the Debian 12 name.
#   Depends: libportaudio2 (a microphone and a speaker are what ava-voice is for; only the
#     headless WAV mode runs without it), libcurl4 and libical3 (the built-in tools),
#     libspeexdsp1 (echo cancellation on open speakers; without it `--echo auto` gates).
#   Recommends: libespeak-ng1. Only the offline simulator speaks with it, and without it the
#     simulator uses its synthetic voice; it brings espeak-ng-data and a sound stack that
#     minimal installs may not want.
if(AVA_LAZY_LIBS)
    find_program(_ava_dpkg_query dpkg-query)
    function(_ava_deb_package_of out soname fallback)
        set(pkg ${fallback})
        if(_ava_dpkg_query)
            execute_process(COMMAND ${_ava_dpkg_query} -S "*/${soname}"
                            OUTPUT_VARIABLE found RESULT_VARIABLE rc ERROR_QUIET)
            if(rc EQUAL 0 AND found MATCHES "^([a-z0-9][a-z0-9.+-]+)[:,]")
                set(pkg ${CMAKE_MATCH_1})
            endif()
        endif()
        set(${out} ${pkg} PARENT_SCOPE)
    endfunction()
    _ava_deb_package_of(_ava_pa libportaudio.so.2 libportaudio2)
    _ava_deb_package_of(_ava_curl libcurl.so.4 libcurl4)
    _ava_deb_package_of(_ava_ical libical.so.3 libical3)
    _ava_deb_package_of(_ava_speex libspeexdsp.so.1 libspeexdsp1)
    set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_ava_pa}, ${_ava_curl}, ${_ava_ical}, ${_ava_speex}")
    if(TARGET PkgConfig::espeak_ng)
        _ava_deb_package_of(_ava_espeak libespeak-ng.so.1 libespeak-ng1)
        string(APPEND CPACK_DEBIAN_PACKAGE_RECOMMENDS ", ${_ava_espeak}")
    endif()
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "x-terminal-emulator")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/ava-voice/ava-voice")

include(CPack)
