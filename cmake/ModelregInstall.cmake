# Install rules and the CMake package of modelreg (included when MODELREG_INSTALL is ON).
#
#   find_package(modelreg 0.1 CONFIG REQUIRED [COMPONENTS sqlite archive s3])
#   target_link_libraries(app PRIVATE modelreg::modelreg modelreg::sqlite)
#
# Works for static and shared builds (BUILD_SHARED_LIBS). The build tree is exported too, so a
# project can point modelreg_DIR at a modelreg build directory without installing it.
#
# Variables set here are prefixed _modelreg_ and unset at the end: this file is included in
# modelreg's top-level directory scope.
include(CMakePackageConfigHelpers)

set(MODELREG_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/modelreg"
    CACHE STRING "Where to install modelreg's CMake package files (relative to the prefix)")
mark_as_advanced(MODELREG_INSTALL_CMAKEDIR)

# An exported target may reference only imported targets or targets in an export set. The
# dependencies are imported when ModelregDependencies.cmake found installed packages; a fetched
# one would have to be installed by modelreg as well, which it does not do. Skip the package
# with a clear warning rather than fail at generate time ("... not in any export set").
foreach(_modelreg_dep IN ITEMS nlohmann_json::nlohmann_json fmt::fmt spdlog::spdlog)
  if(TARGET ${_modelreg_dep})
    get_target_property(_modelreg_dep_imported ${_modelreg_dep} IMPORTED)
    if(NOT _modelreg_dep_imported)
      message(WARNING
        "modelreg: ${_modelreg_dep} is built from fetched sources, so modelreg's install rules "
        "and CMake package are not generated. Install the dependencies (Debian: "
        "nlohmann-json3-dev, libfmt-dev, libspdlog-dev) or set MODELREG_INSTALL=OFF.")
      unset(_modelreg_dep)
      unset(_modelreg_dep_imported)
      return()
    endif()
  endif()
endforeach()

set(_modelreg_targets modelreg)
foreach(_modelreg_component sqlite archive s3 postgres)
  if(TARGET modelreg_${_modelreg_component})
    list(APPEND _modelreg_targets modelreg_${_modelreg_component})
    set(_modelreg_has_${_modelreg_component} TRUE)  # read by modelregConfig.cmake.in
  else()
    set(_modelreg_has_${_modelreg_component} FALSE)
  endif()
endforeach()

install(TARGETS ${_modelreg_targets}
  EXPORT modelregTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT modelreg_Runtime
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT modelreg_Runtime
          NAMELINK_COMPONENT modelreg_Development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT modelreg_Development)
# (modelreg's INSTALL_INTERFACE include directory, set in src/, reaches both targets.)

# Public headers only; internal headers live in src/ and are never installed.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/modelreg"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT modelreg_Development
  FILES_MATCHING PATTERN "*.hpp")

install(EXPORT modelregTargets
  FILE modelregTargets.cmake
  NAMESPACE modelreg::
  DESTINATION "${MODELREG_INSTALL_CMAKEDIR}"
  COMPONENT modelreg_Development)

# One config file serves both the install and the build tree: it finds everything relative to
# its own location.
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/modelregConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/modelregConfig.cmake"
  INSTALL_DESTINATION "${MODELREG_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO)

# 0.x releases may break the API with every minor version; from 1.0 on, the major version.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_modelreg_compatibility SameMinorVersion)
else()
  set(_modelreg_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/modelregConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY ${_modelreg_compatibility})

install(FILES
  "${PROJECT_BINARY_DIR}/modelregConfig.cmake"
  "${PROJECT_BINARY_DIR}/modelregConfigVersion.cmake"
  DESTINATION "${MODELREG_INSTALL_CMAKEDIR}"
  COMPONENT modelreg_Development)

# The build tree as a package: modelreg_DIR=<build dir> finds the targets built there.
export(EXPORT modelregTargets
  FILE "${PROJECT_BINARY_DIR}/modelregTargets.cmake"
  NAMESPACE modelreg::)

unset(_modelreg_targets)
unset(_modelreg_has_sqlite)
unset(_modelreg_has_archive)
unset(_modelreg_has_s3)
unset(_modelreg_has_postgres)
unset(_modelreg_component)
unset(_modelreg_dep)
unset(_modelreg_dep_imported)
unset(_modelreg_compatibility)
