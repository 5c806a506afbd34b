# AVA_SANITIZE="address;undefined" or "thread": applied to every target we build.
if(AVA_SANITIZE)
    list(JOIN AVA_SANITIZE "," _ava_san)
    message(STATUS "ava: sanitizers ${_ava_san}")
    add_compile_options(-fsanitize=${_ava_san} -fno-sanitize-recover=all -fno-omit-frame-pointer)
    add_link_options(-fsanitize=${_ava_san})
endif()
