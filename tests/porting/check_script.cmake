# SPDX-License-Identifier: BSD-2-Clause
# The porting check on client files of our own (clients/): what it prints for
# a file that compiles, a missing header and an undeclared function, its
# summary and tally, its exit status, its JSON, and that the stubs are what
# make the device model compile.
#   cmake -DSCRIPT=<porting-check.sh> -DCLIENTS=<dir> -DWORK=<dir> -DCC=<compiler> -P check_script.cmake
# With -DPREFIX=<prefix> the script is the one installed there and must use
# the headers and stubs installed beside it (only the device model is checked).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(ENV{CC} "${CC}")

# Runs the script with ARGN; sets rc and out (stdout and stderr together).
function(porting_check)
  execute_process(COMMAND bash "${SCRIPT}" ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  set(rc "${status}" PARENT_SCOPE)
  set(out "${output}" PARENT_SCOPE)
endfunction()

function(expect_rc want)
  if(NOT rc STREQUAL want)
    message(FATAL_ERROR "porting-check.sh exited with ${rc}, expected ${want}; it printed:\n${out}")
  endif()
endfunction()

# Each argument must be a whole line of the output.
function(expect_lines)
  foreach(line IN LISTS ARGN)
    string(FIND "\n${out}" "\n${line}\n" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "porting-check.sh did not print the line\n  ${line}\nIt printed:\n${out}")
    endif()
  endforeach()
endfunction()

# Each argument must start a line of the output.
function(expect_line_starts)
  foreach(start IN LISTS ARGN)
    string(FIND "\n${out}" "\n${start}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "porting-check.sh printed no line starting with\n  ${start}\nIt printed:\n${out}")
    endif()
  endforeach()
endfunction()

set(model "${CLIENTS}/device_model.c")

if(DEFINED PREFIX)
  porting_check(--verbose "${model}")
  expect_rc(0)
  expect_lines("ok ${model}" "1 of 1 files compile" "porting-check: guestmem headers: -I${PREFIX}/include"
    "porting-check: stub headers: ${PREFIX}/share/guestmem/porting-stubs")
  message(STATUS "the installed porting check compiled the device model against the installed headers")
  return()
endif()

# A directory: every .c file below it, in name order.
porting_check(--json "${WORK}/results.json" "${CLIENTS}")
expect_rc(1)
expect_lines(
  "ok ${model}"
  "FAIL ${CLIENTS}/missing_header.c: missing header <porting_check/absent.h> (${CLIENTS}/missing_header.c:8)"
  "FAIL ${CLIENTS}/undeclared_function.c: undeclared function 'vm_porting_check_absent_function' (${CLIENTS}/undeclared_function.c:9)"
  "1 of 3 files compile"
  "first errors:"
  "  missing header <porting_check/absent.h>: 1 file"
  "  undeclared function 'vm_porting_check_absent_function': 1 file")

# The same results as JSON.
file(READ "${WORK}/results.json" json)
string(JSON files GET "${json}" files)
string(JSON compiled GET "${json}" compiled)
string(JSON results LENGTH "${json}" results)
string(JSON first_ok GET "${json}" results 0 ok)
string(JSON second_ok GET "${json}" results 1 ok)
string(JSON second_cause GET "${json}" results 1 cause)
string(JSON tally GET "${json}" causes "missing header <porting_check/absent.h>")
if(NOT files EQUAL 3 OR NOT compiled EQUAL 1 OR NOT results EQUAL 3 OR NOT first_ok STREQUAL "ON"
   OR NOT second_ok STREQUAL "OFF" OR NOT second_cause STREQUAL "missing header <porting_check/absent.h>"
   OR NOT tally EQUAL 1)
  message(FATAL_ERROR "unexpected JSON results:\n${json}")
endif()

# One file that compiles: exit status 0.
porting_check("${model}")
expect_rc(0)
expect_lines("ok ${model}" "1 of 1 files compile")

# Without the stubs the device model lacks the seL4 libraries' headers: they are what make it compile.
porting_check(--no-stubs "${model}")
expect_rc(1)
expect_line_starts("FAIL ${model}: missing header <")

# Every error of a file, grouped: a file counts once per cause.
porting_check(--all-errors --quiet "${CLIENTS}/undeclared_function.c")
expect_rc(1)
expect_lines("errors (files with each):" "  undeclared function 'vm_porting_check_absent_function': 1 file")

# Usage errors: exit status 2.
porting_check()
expect_rc(2)
porting_check(--no-such-option "${model}")
expect_rc(2)
porting_check("${CLIENTS}/no_such_file.c")
expect_rc(2)

message(STATUS "porting-check.sh reported the client files as expected")
