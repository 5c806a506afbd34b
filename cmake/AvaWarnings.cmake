# ava_set_warnings(target): our warning level, kept at zero. Third-party headers come in as
# SYSTEM includes (imported targets), so they do not count.
function(ava_set_warnings target)
    target_compile_options(${target} PRIVATE
        -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Wnon-virtual-dtor
        -Wold-style-cast -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
        # Designated initialisers that leave defaulted members out are our idiom.
        -Wno-missing-field-initializers)
    if(AVA_WARNINGS_AS_ERRORS)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
