# One packaging test, run as `cmake -D... -P packaging_test.cmake` by CTest (see CMakeLists.txt).
#
#   SETTINGS  the settings file tests/packaging/CMakeLists.txt wrote: source tree, generator,
#             version, and the initial cache (compiler, make program, prefix path) for builds
#   CONFIG    the configuration under test ($<CONFIG>; may be empty)
#   WORK_DIR  this test's own directory
#   SHARED    ON or OFF: BUILD_SHARED_LIBS for modelreg
#   ACTION    install   configure the modelreg source tree afresh (tests, examples, benchmarks
#                       off), build it, install it to WORK_DIR/prefix and check what was installed
#             consumer  configure, build and run tests/packaging/consumer in WORK_DIR
#   MODE      (consumer) find_package, add_subdirectory or fetchcontent
#   PACKAGE   (consumer, find_package) either PREFIX=<dir>: an install prefix, found through the
#             CMAKE_PREFIX_PATH environment variable,
#             or DIR=<dir>: a directory holding modelregConfig.cmake (a build tree)
#   CXX_STANDARD  (consumer, optional) the CMAKE_CXX_STANDARD the consumer project sets
#
# Each step reuses the object files of an earlier run but never its cache (cmake --fresh).
cmake_minimum_required(VERSION 3.24...3.28)

foreach(required IN ITEMS SETTINGS WORK_DIR SHARED ACTION)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "packaging_test.cmake: -D${required}=... is required")
  endif()
endforeach()
include("${SETTINGS}")

# Runs a command, its output going to the test log; stops the test if it fails.
function(run_step description)
  message(STATUS "---- ${description}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result COMMAND_ECHO STDOUT)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${description}: failed (${result})")
  endif()
endfunction()

set(generator_args -G "${MODELREG_PKG_GENERATOR}")
if(MODELREG_PKG_GENERATOR_PLATFORM)
  list(APPEND generator_args -A "${MODELREG_PKG_GENERATOR_PLATFORM}")
endif()
if(MODELREG_PKG_GENERATOR_TOOLSET)
  list(APPEND generator_args -T "${MODELREG_PKG_GENERATOR_TOOLSET}")
endif()
set(configure_args ${generator_args} -C "${MODELREG_PKG_INIT_CACHE}"
                   "-DBUILD_SHARED_LIBS=${SHARED}")
set(build_args --parallel ${MODELREG_PKG_JOBS})
set(install_args "")
set(ctest_args "")
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
  # These builds test CMake's packaging, not code generation (the build under test compiles the
  # same sources with its own flags): with GCC and Clang they compile without optimization or
  # debug information, about three times as fast as -O2 -g, keeping the configuration's NDEBUG.
  if(MODELREG_PKG_CXX_COMPILER_ID MATCHES "GNU|Clang")
    string(TOUPPER "${CONFIG}" config_upper)
    set(config_flags "-O0")
    if(NOT config_upper STREQUAL "DEBUG")
      string(APPEND config_flags " -DNDEBUG")
    endif()
    list(APPEND configure_args "-DCMAKE_CXX_FLAGS_${config_upper}=${config_flags}")
  endif()
  list(APPEND build_args --config "${CONFIG}")
  list(APPEND install_args --config "${CONFIG}")
  list(APPEND ctest_args -C "${CONFIG}")
endif()

if(ACTION STREQUAL "install")
  set(build_dir "${WORK_DIR}/build")
  set(prefix "${WORK_DIR}/prefix")
  run_step("configure modelreg"
    "${CMAKE_COMMAND}" --fresh -S "${MODELREG_PKG_SOURCE_DIR}" -B "${build_dir}" ${configure_args}
    -DMODELREG_BUILD_TESTS=OFF -DMODELREG_BUILD_EXAMPLES=OFF -DMODELREG_BUILD_BENCHMARKS=OFF
    -DMODELREG_BUILD_TOOLS=OFF
    -DMODELREG_INSTALL=ON "-DMODELREG_SQLITE=${MODELREG_PKG_SQLITE}")
  run_step("build modelreg" "${CMAKE_COMMAND}" --build "${build_dir}" ${build_args})
  file(REMOVE_RECURSE "${prefix}")
  # Installed to another prefix than the configured one: the package must be relocatable.
  run_step("install modelreg"
    "${CMAKE_COMMAND}" --install "${build_dir}" --prefix "${prefix}" ${install_args})

  # Exactly the public headers, nothing from src/.
  file(GLOB expected_headers RELATIVE "${MODELREG_PKG_SOURCE_DIR}/include"
       "${MODELREG_PKG_SOURCE_DIR}/include/modelreg/*.hpp")
  file(GLOB_RECURSE installed_headers RELATIVE "${prefix}/include" "${prefix}/include/*")
  list(SORT expected_headers)
  list(SORT installed_headers)
  if(NOT expected_headers STREQUAL installed_headers)
    message(FATAL_ERROR "installed headers differ from include/modelreg:\n"
                        "  expected: ${expected_headers}\n  installed: ${installed_headers}")
  endif()

  file(GLOB_RECURSE config_files "${prefix}/*/modelregConfig.cmake")
  list(LENGTH config_files config_count)
  if(NOT config_count EQUAL 1)
    message(FATAL_ERROR "expected one installed modelregConfig.cmake, found: ${config_files}")
  endif()
  get_filename_component(package_dir "${config_files}" DIRECTORY)
  foreach(file IN ITEMS modelregConfigVersion.cmake modelregTargets.cmake)
    if(NOT EXISTS "${package_dir}/${file}")
      message(FATAL_ERROR "not installed: ${package_dir}/${file}")
    endif()
  endforeach()
  # Nothing installed may point back into the checkout or the build tree.
  file(GLOB package_files "${package_dir}/*.cmake")
  foreach(file IN LISTS package_files)
    file(READ "${file}" text)
    foreach(path IN ITEMS "${MODELREG_PKG_SOURCE_DIR}" "${build_dir}")
      string(FIND "${text}" "${path}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "${file} refers to ${path}; the package must be relocatable")
      endif()
    endforeach()
  endforeach()
  message(STATUS "installed modelreg to ${prefix}")

elseif(ACTION STREQUAL "consumer")
  if(NOT DEFINED MODE)
    message(FATAL_ERROR "packaging_test.cmake: -DMODE=... is required for ACTION=consumer")
  endif()
  set(consumer_args
    "-DMODELREG_CONSUMER_MODE=${MODE}"
    "-DMODELREG_CONSUMER_SQLITE=${MODELREG_PKG_SQLITE}"
    "-DMODELREG_CONSUMER_EXPECT_VERSION=${MODELREG_PKG_VERSION}")
  if(CXX_STANDARD)
    list(APPEND consumer_args "-DMODELREG_CONSUMER_CXX_STANDARD=${CXX_STANDARD}")
  endif()
  if(MODE STREQUAL "find_package")
    if(PACKAGE MATCHES "^PREFIX=(.+)$")
      # Through the environment, as a user's shell would; the initial cache keeps this build's
      # own CMAKE_PREFIX_PATH for the dependencies.
      set(ENV{CMAKE_PREFIX_PATH} "${CMAKE_MATCH_1}")
      list(APPEND consumer_args "-DMODELREG_CONSUMER_EXPECT_PACKAGE_DIR=${CMAKE_MATCH_1}")
    elseif(PACKAGE MATCHES "^DIR=(.+)$")
      list(APPEND consumer_args "-Dmodelreg_DIR=${CMAKE_MATCH_1}"
                                "-DMODELREG_CONSUMER_EXPECT_PACKAGE_DIR=${CMAKE_MATCH_1}")
    else()
      message(FATAL_ERROR "MODE=find_package needs -DPACKAGE=PREFIX=<dir> or DIR=<dir>")
    endif()
  else()
    list(APPEND consumer_args "-DMODELREG_CONSUMER_SOURCE_DIR=${MODELREG_PKG_SOURCE_DIR}"
                              "-DMODELREG_SQLITE=${MODELREG_PKG_SQLITE}")
  endif()

  run_step("configure the consumer (${MODE})"
    "${CMAKE_COMMAND}" --fresh -S "${MODELREG_PKG_CONSUMER_DIR}" -B "${WORK_DIR}" ${configure_args}
    ${consumer_args})
  run_step("build the consumer (${MODE})" "${CMAKE_COMMAND}" --build "${WORK_DIR}" ${build_args})
  file(REMOVE_RECURSE "${WORK_DIR}/registry")
  run_step("run the consumer (${MODE})"
    "${MODELREG_PKG_CTEST_COMMAND}" --test-dir "${WORK_DIR}" ${ctest_args} --verbose
    --no-tests=error)

else()
  message(FATAL_ERROR "packaging_test.cmake: unknown ACTION '${ACTION}'")
endif()
