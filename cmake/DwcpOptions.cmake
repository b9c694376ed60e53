# Warnings and sanitizers shared by every dwcp target.
add_library(dwcp_build_options INTERFACE)
target_compile_options(dwcp_build_options INTERFACE -Wall -Wextra -Werror)
# g++ 12 at -O3 reports -Wrestrict on std::string assignments and concatenations that
# cannot overlap (GCC bug 105329, fixed in 13): in Release builds only, and only there.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(dwcp_build_options INTERFACE $<$<CONFIG:Release>:-Wno-restrict>)
endif()

# Release builds (the tools, the benchmarks, the demo) optimise across files: the per-packet
# path calls many small functions of other files (send buffer, ACK scheduler, controllers),
# and inlining them is worth 4% of loopback throughput. Fat objects keep the installed
# archives usable by a consumer that links without LTO.
if(DWCP_LTO AND CMAKE_BUILD_TYPE STREQUAL "Release" AND NOT DWCP_SANITIZE)
  include(CheckIPOSupported)
  check_ipo_supported(RESULT _dwcp_ipo OUTPUT _dwcp_ipo_why LANGUAGES CXX)
  if(_dwcp_ipo)
    set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(dwcp_build_options INTERFACE -ffat-lto-objects)
    endif()
  else()
    message(STATUS "dwcp: no link-time optimisation: ${_dwcp_ipo_why}")
  endif()
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
