# Install rules and CPack (.deb, .tar.gz; productbuild/NSIS-ready names on other platforms).
# Included once from the top-level CMakeLists.txt, after the targets exist.
#
#   cmake --install build --prefix /usr/local     the files below, in the usual places
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
install(DIRECTORY sim/samples/ DESTINATION ${_ava_share}/samples COMPONENT runtime
        FILES_MATCHING PATTERN "*.wav")
install(DIRECTORY sim/scenarios/ DESTINATION ${_ava_share}/scenarios COMPONENT runtime)
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

# ---- CPack ----
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
#     headless WAV mode runs without it), libcurl4 and libical3 (the built-in tools).
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
    set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_ava_pa}, ${_ava_curl}, ${_ava_ical}")
    if(TARGET PkgConfig::espeak_ng)
        _ava_deb_package_of(_ava_espeak libespeak-ng.so.1 libespeak-ng1)
        string(APPEND CPACK_DEBIAN_PACKAGE_RECOMMENDS ", ${_ava_espeak}")
    endif()
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "x-terminal-emulator")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/ava-voice/ava-voice")

include(CPack)
