# Every dependency comes from a Debian package (scripts/setup installs them) and is
# found through pkg-config or the package's CMake config.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(NUMA REQUIRED IMPORTED_TARGET numa)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET libcrypto)

# Standalone Asio ships headers only and no pkg-config file.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(dwcp_asio INTERFACE)
target_include_directories(dwcp_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(dwcp_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)

if(DWCP_BUILD_TESTS)
  find_package(doctest REQUIRED CONFIG)
endif()
if(DWCP_BUILD_BENCH)
  find_package(benchmark REQUIRED CONFIG)
  find_package(Boost 1.74 CONFIG QUIET)
  if(Boost_FOUND)
    message(STATUS "dwcp bench: comparing against boost::lockfree ${Boost_VERSION}")
  else()
    message(STATUS "dwcp bench: libboost-dev not found, boost::lockfree comparisons skipped (scripts/setup --bench installs it)")
  endif()
endif()
