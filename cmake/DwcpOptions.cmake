# Warnings and sanitizers shared by every dwcp target.
add_library(dwcp_build_options INTERFACE)
target_compile_options(dwcp_build_options INTERFACE -Wall -Wextra -Werror)
# g++ 12 at -O3 reports -Wrestrict on std::string assignments and concatenations that
# cannot overlap (GCC bug 105329, fixed in 13): in Release builds only, and only there.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(dwcp_build_options INTERFACE $<$<CONFIG:Release>:-Wno-restrict>)
endif()

if(DWCP_SANITIZE)
  set(_dwcp_san_flags -fsanitize=${DWCP_SANITIZE} -fno-omit-frame-pointer)
  if(DWCP_SANITIZE MATCHES "undefined")
    list(APPEND _dwcp_san_flags -fno-sanitize-recover=all)
  endif()
  target_compile_options(dwcp_build_options INTERFACE ${_dwcp_san_flags})
  target_link_options(dwcp_build_options INTERFACE ${_dwcp_san_flags})
endif()

# libFuzzer needs coverage instrumentation in the libraries, not only in the targets.
if(DWCP_BUILD_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  target_compile_options(dwcp_build_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
