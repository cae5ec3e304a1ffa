# SPDX-License-Identifier: BSD-2-Clause
# `cmake --install` for guestmem: public headers, libguestmem.a and
# libguestmem.so, a CMake package with imported targets and a pkg-config file.
#
# Consumers:
#   find_package(guestmem 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE guestmem::guestmem)          # static
#   target_link_libraries(app PRIVATE guestmem::guestmem_shared)   # shared
# or: cc app.c $(pkg-config --cflags --libs guestmem)              # shared
#     cc app.c $(pkg-config --static --cflags --libs guestmem)     # either
# C++ users of include/guestmem/*.hpp compile as C++20; C users of
# include/sel4vm/*.h need only C99.

include(CMakePackageConfigHelpers)

set(GUESTMEM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/guestmem)

set_target_properties(guestmem_shared PROPERTIES EXPORT_NAME guestmem_shared)
set_target_properties(guestmem PROPERTIES EXPORT_NAME guestmem)
# Install components (the Debian packages of cmake/GuestmemPackaging.cmake):
# runtime, the shared library a program needs to run (libguestmem.so.0 and
# libguestmem.so.0.x.y); dev, what building against guestmem needs (headers,
# libguestmem.a, the libguestmem.so link, the CMake package, guestmem.pc);
# vmm, the demo VMM and its guests (vmm/CMakeLists.txt).
install(TARGETS guestmem guestmem_shared
  EXPORT guestmemTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sel4vm
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev
  FILES_MATCHING PATTERN "*.h")
# kvm.hpp and emu.hpp declare backends' functions: only where the library has them.
set(guestmem_header_excludes)
if(NOT GUESTMEM_WITH_KVM)
  list(APPEND guestmem_header_excludes PATTERN "kvm.hpp" EXCLUDE)
endif()
if(NOT GUESTMEM_WITH_EMU)
  list(APPEND guestmem_header_excludes PATTERN "emu.hpp" EXCLUDE)
endif()
set(GUESTMEM_PC_EMU_LIBS "")
if(GUESTMEM_WITH_EMU)
  set(GUESTMEM_PC_EMU_LIBS " -lunicorn")
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/guestmem
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev
  FILES_MATCHING PATTERN "*.hpp" PATTERN "export.h" ${guestmem_header_excludes})

# The porting check: scripts/porting-check.sh compiles libsel4vm client code
# against the installed headers, with the stub headers of the seL4 libraries
# around libsel4vm (scripts/porting-stubs). Installed as
# share/guestmem/porting-check.sh and share/guestmem/porting-stubs/; the script
# finds the headers in ../../include from there.
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/porting-check.sh
  DESTINATION ${CMAKE_INSTALL_DATADIR}/guestmem
  COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scripts/porting-stubs
  DESTINATION ${CMAKE_INSTALL_DATADIR}/guestmem
  COMPONENT dev)

install(EXPORT guestmemTargets
  NAMESPACE guestmem::
  DESTINATION ${GUESTMEM_CMAKE_DIR}
  COMPONENT dev)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/guestmemConfig.cmake.in
  ${PROJECT_BINARY_DIR}/guestmemConfig.cmake
  INSTALL_DESTINATION ${GUESTMEM_CMAKE_DIR})
# 0.x releases may change the interface between minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/guestmemConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/guestmemConfig.cmake
  ${PROJECT_BINARY_DIR}/guestmemConfigVersion.cmake
  DESTINATION ${GUESTMEM_CMAKE_DIR}
  COMPONENT dev)

# The .pc file names its prefix relative to itself, so that the installed
# tree works wherever `cmake --install --prefix` put it.
set(guestmem_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${guestmem_pc_dir}")
  set(GUESTMEM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH guestmem_pc_up "/prefix/${guestmem_pc_dir}" "/prefix")
  string(REGEX REPLACE "/$" "" guestmem_pc_up "${guestmem_pc_up}")
  set(GUESTMEM_PC_PREFIX "\${pcfiledir}/${guestmem_pc_up}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/guestmem.pc.in ${PROJECT_BINARY_DIR}/guestmem.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/guestmem.pc DESTINATION ${guestmem_pc_dir} COMPONENT dev)
