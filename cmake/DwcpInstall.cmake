# cmake --install: headers under include/dwcp/<module>/, the libraries, a CMake package
# config with version file, and dwcp.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(_dwcp_modules GLOBAL PROPERTY DWCP_MODULES)
install(TARGETS ${_dwcp_modules} dwcp
  EXPORT dwcpTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dwcp)

set(_dwcp_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/dwcp)
install(EXPORT dwcpTargets NAMESPACE dwcp:: DESTINATION ${_dwcp_cmake_dir})
configure_package_config_file(cmake/dwcpConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/dwcpConfig.cmake INSTALL_DESTINATION ${_dwcp_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/dwcpConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dwcpConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/dwcpConfigVersion.cmake
        DESTINATION ${_dwcp_cmake_dir})

# pkg-config: static archives, so list them dependents first.
set(DWCP_PC_LIBS "")
foreach(module IN LISTS _dwcp_modules)
  get_target_property(_type ${module} TYPE)
  if(_type STREQUAL "STATIC_LIBRARY")
    set(DWCP_PC_LIBS "-l${module} ${DWCP_PC_LIBS}")
  endif()
endforeach()
# Relocatable: the prefix is found from the .pc file's own directory.
file(RELATIVE_PATH DWCP_PC_PREFIX_FROM_PCDIR "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" DWCP_PC_PREFIX_FROM_PCDIR "${DWCP_PC_PREFIX_FROM_PCDIR}")
configure_file(cmake/dwcp.pc.in ${CMAKE_CURRENT_BINARY_DIR}/dwcp.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dwcp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
