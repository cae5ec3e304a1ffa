# SPDX-License-Identifier: BSD-2-Clause
# Target `docs`: the reference documentation, rendered with Doxygen from the
# public headers (include/) and the guide (docs/*.md) into <build>/docs/html.
# Optional: without Doxygen there is no docs target. Any Doxygen warning (an
# undocumented public symbol, a wrong @param) fails the target, so the
# reference stays complete.
find_package(Doxygen)
if(NOT DOXYGEN_FOUND)
  message(STATUS "Doxygen not found: no docs target (apt-get install doxygen)")
  return()
endif()

set(DOXYGEN_PROJECT_NAME guestmem)
set(DOXYGEN_PROJECT_NUMBER ${PROJECT_VERSION})
set(DOXYGEN_PROJECT_BRIEF "Guest-physical address spaces for VMMs: libsel4vm's guest memory interface on KVM and without a hypervisor")
set(DOXYGEN_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
set(DOXYGEN_USE_MDFILE_AS_MAINPAGE ${PROJECT_SOURCE_DIR}/docs/index.md)
set(DOXYGEN_STRIP_FROM_PATH ${PROJECT_SOURCE_DIR})
set(DOXYGEN_STRIP_FROM_INC_PATH ${PROJECT_SOURCE_DIR}/include)
set(DOXYGEN_FILE_PATTERNS *.h *.hpp *.md)
set(DOXYGEN_EXTENSION_MAPPING h=C)
set(DOXYGEN_JAVADOC_AUTOBRIEF YES)
set(DOXYGEN_QT_AUTOBRIEF YES)
set(DOXYGEN_EXTRACT_ALL NO)
set(DOXYGEN_EXTRACT_STATIC YES)
set(DOXYGEN_HIDE_UNDOC_RELATIONS YES)
set(DOXYGEN_SORT_MEMBER_DOCS NO)
set(DOXYGEN_WARN_IF_UNDOCUMENTED YES)
set(DOXYGEN_WARN_IF_DOC_ERROR YES)
set(DOXYGEN_WARN_IF_INCOMPLETE_DOC YES)
set(DOXYGEN_WARN_NO_PARAMDOC NO)
set(DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)
set(DOXYGEN_QUIET YES)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_GENERATE_TREEVIEW YES)
set(DOXYGEN_ENABLE_PREPROCESSING YES)
# GUESTMEM_API (include/guestmem/export.h), the export mark, is not part of
# the documented declarations: expanded to nothing, and only it.
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_EXPAND_ONLY_PREDEF YES)
set(DOXYGEN_PREDEFINED "GUESTMEM_API=")
set(DOXYGEN_EXCLUDE_SYMBOLS "SEL4VM_*_H" "GUESTMEM_EXPORT_H")
# Private headers under src/ are not the reference.
doxygen_add_docs(docs
  ${PROJECT_SOURCE_DIR}/include/guestmem
  ${PROJECT_SOURCE_DIR}/include/sel4vm
  ${PROJECT_SOURCE_DIR}/docs
  COMMENT "Rendering the reference documentation into ${PROJECT_BINARY_DIR}/docs/html")

if(GUESTMEM_BUILD_TESTS)
  # The reference must build without a single warning.
  add_test(NAME docs_build_without_warnings
    COMMAND ${CMAKE_COMMAND} --build ${PROJECT_BINARY_DIR} --target docs)
  set_tests_properties(docs_build_without_warnings PROPERTIES LABELS docs TIMEOUT 300)
endif()
