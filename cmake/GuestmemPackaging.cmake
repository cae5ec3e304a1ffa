# SPDX-License-Identifier: BSD-2-Clause
# Debian packages with CPack (`cpack -G DEB` in the build directory), one per
# install component (cmake/GuestmemInstall.cmake, vmm/CMakeLists.txt):
#   libguestmem<SOVERSION>  runtime: the shared library
#   libguestmem-dev         dev: headers, libguestmem.a, CMake package, guestmem.pc
#   guestmem-vmm            vmm: the demo VMM and its guests (when it is built)
# The packages install under /usr. Their library dependencies (libc6,
# libstdc++6, libunicorn2 when the emulator backend is built) come from
# dpkg-shlibdeps; libguestmem-dev depends on the runtime package of the same
# version, and on libunicorn-dev when the emulator backend is built (users of
# libguestmem.a link Unicorn themselves).

set(GUESTMEM_PACKAGE_CONTACT "guestmem developers <guestmem@invalid>" CACHE STRING
  "Maintainer field of the Debian packages")

set(CPACK_PACKAGE_NAME guestmem)
set(CPACK_PACKAGE_VENDOR "guestmem")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${GUESTMEM_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Guest-physical address space management for VMMs")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Only the Debian generator is set up; `cpack -G DEB` names it explicitly.
set(CPACK_GENERATOR DEB)

set(CPACK_COMPONENTS_ALL runtime dev)
if(TARGET guestmem-vmm)
  list(APPEND CPACK_COMPONENTS_ALL vmm)
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The binaries' library dependencies, with their minimum versions, come from
# dpkg-shlibdeps (Debian's dpkg-dev; CPack also needs `file`). Without them
# the packages name the libraries alone.
find_program(GUESTMEM_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(GUESTMEM_FILE_COMMAND file)
if(GUESTMEM_DPKG_SHLIBDEPS AND GUESTMEM_FILE_COMMAND)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  message(STATUS "dpkg-shlibdeps or file not found (apt-get install dpkg-dev file): "
    "the Debian packages' Depends name libraries without versions")
  set(guestmem_binary_depends "libc6, libgcc-s1, libstdc++6")
  if(GUESTMEM_WITH_EMU)
    string(APPEND guestmem_binary_depends ", libunicorn2")
  endif()
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "${guestmem_binary_depends}")
  set(CPACK_DEBIAN_VMM_PACKAGE_DEPENDS "${guestmem_binary_depends}")
endif()
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "guestmem shared library\nManages a VM's guest-physical address space and implements libsel4vm's\nguest memory interface, over KVM, a CPU emulator or no hypervisor.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libguestmem${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# A shlibs file, as Debian's library packages have (CPack sets it for every
# package holding a shared object: the runtime one), and ldconfig calls.
if(GUESTMEM_FILE_COMMAND)
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
endif()

set(CPACK_COMPONENT_DEV_DESCRIPTION
  "guestmem development files\nHeaders (C99 <sel4vm/...>, C++20 <guestmem/...>), the static library,\nthe CMake package (find_package(guestmem)) and guestmem.pc.")
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libguestmem-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
if(GUESTMEM_WITH_EMU)
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libunicorn-dev")
endif()

set(CPACK_COMPONENT_VMM_DESCRIPTION
  "guestmem demo VMM\nguestmem-vmm runs small x86-64 and AArch64 guests (included) with emulated\ndevices, on KVM or the CPU emulator.")
set(CPACK_DEBIAN_VMM_PACKAGE_NAME guestmem-vmm)
set(CPACK_DEBIAN_VMM_PACKAGE_SECTION misc)

include(CPack)
