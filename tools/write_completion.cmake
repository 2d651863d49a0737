# cmake -DMODELREG_CLI=<modelreg> -DOUTPUT=<file> -P write_completion.cmake
# Writes `modelreg completion bash` to OUTPUT (at build time; see CMakeLists.txt).
get_filename_component(_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${_dir}")
execute_process(
  COMMAND "${MODELREG_CLI}" completion bash
  OUTPUT_FILE "${OUTPUT}.tmp"
  RESULT_VARIABLE _result)
if(NOT _result EQUAL 0)
  file(REMOVE "${OUTPUT}.tmp")
  message(FATAL_ERROR "'${MODELREG_CLI} completion bash' failed: ${_result}")
endif()
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
