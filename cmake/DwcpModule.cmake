# dwcp_add_module(NAME SOURCES ... HEADERS ... DEPENDS ...)
# One library per module, alias dwcp::NAME. Code includes headers from the repository
# root ("mempool/buffer_pool.h"); installed headers live in include/dwcp/NAME/.
function(dwcp_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;HEADERS;DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  if(ARG_SOURCES)
    add_library(dwcp_${name} STATIC ${ARG_SOURCES})
    set(_scope PUBLIC)
    target_link_libraries(dwcp_${name} PRIVATE $<BUILD_INTERFACE:dwcp_build_options>
                          ${ARG_PRIVATE_DEPENDS})
  else()
    add_library(dwcp_${name} INTERFACE)
    set(_scope INTERFACE)
  endif()
  add_library(dwcp::${name} ALIAS dwcp_${name})
  set_target_properties(dwcp_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME dwcp_${name})
  target_compile_features(dwcp_${name} ${_scope} cxx_std_23)
  target_include_directories(dwcp_${name} ${_scope}
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:include/dwcp>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(dwcp_${name} ${_scope} ${ARG_DEPENDS})
  foreach(header IN LISTS ARG_HEADERS)
    target_sources(dwcp_${name} ${_scope}
      FILE_SET HEADERS BASE_DIRS ${PROJECT_SOURCE_DIR} FILES ${header})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY DWCP_MODULES dwcp_${name})
endfunction()
