# Script mode: cmake -DDWCP_BUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=... -P this
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${DWCP_BUILD_DIR} --prefix ${prefix})
foreach(header simd/xor_delta.h lockfree/spsc_ring.h mempool/buffer_pool.h affinity/cpu_set.h)
  if(NOT EXISTS ${prefix}/include/dwcp/${header})
    message(FATAL_ERROR "not installed: include/dwcp/${header}")
  endif()
endforeach()

# 1. CMake package.
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/cmake-build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
run(${WORK_DIR}/cmake-build/dwcp_consumer)
message(STATUS "find_package consumer: ${last_output}")

# 2. pkg-config.
file(GLOB_RECURSE pc_files ${prefix}/*/dwcp.pc)
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one installed dwcp.pc, found: ${pc_files}")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
run(pkg-config --cflags --libs dwcp)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CXX_COMPILER} -std=c++2b ${CONSUMER_SOURCE_DIR}/main.cpp -o ${WORK_DIR}/pc_consumer ${flags})
run(${WORK_DIR}/pc_consumer)
message(STATUS "pkg-config consumer: ${last_output}")
