# SPDX-License-Identifier: BSD-2-Clause
# Configures, builds and runs one consumer project against the installed
# package in PREFIX. The consumer must print "<EXE>: ok" and exit 0.
file(REMOVE_RECURSE "${BINARY_DIR}")
set(ENV{PKG_CONFIG_PATH} "${PKG_CONFIG_DIR}")
# Only the package in PREFIX may be found (not one in the build tree's
# package registry or a system one).
set(args
  -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
  "-DCMAKE_PREFIX_PATH=${PREFIX}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
  "-DCMAKE_C_COMPILER=${C_COMPILER}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_C_FLAGS=${FLAGS}"
  "-DCMAKE_CXX_FLAGS=${FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${FLAGS}"
  ${OPTIONS})
execute_process(COMMAND "${CMAKE_COMMAND}" ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring ${SOURCE_DIR} failed:\n${out}\n${err}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building ${SOURCE_DIR} failed:\n${out}\n${err}")
endif()
execute_process(COMMAND "${BINARY_DIR}/${EXE}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "${EXE}: ok")
  message(FATAL_ERROR "${EXE} failed (${rc}):\n${out}\n${err}")
endif()
message(STATUS "${out}")
