# SPDX-License-Identifier: BSD-2-Clause
# Installs the build in BUILD_DIR into a fresh PREFIX and checks that every
# piece of the package is there.
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}\n${err}")
endif()

set(expected
  ${INCLUDEDIR}/sel4vm/guest_memory.h
  ${INCLUDEDIR}/sel4vm/guest_memory_helpers.h
  ${INCLUDEDIR}/sel4vm/guest_ram.h
  ${INCLUDEDIR}/sel4vm/guest_vcpu_fault.h
  ${INCLUDEDIR}/sel4vm/guest_vm.h
  ${INCLUDEDIR}/sel4vm/guestmem.h
  ${INCLUDEDIR}/sel4vm/sel4_compat.h
  ${INCLUDEDIR}/sel4vm/arch/guest_arm_context.h
  ${INCLUDEDIR}/sel4vm/arch/guest_x86_context.h
  ${INCLUDEDIR}/sel4vm/arch/ioports.h
  ${INCLUDEDIR}/sel4vm/sel4_arch/processor.h
  ${INCLUDEDIR}/guestmem/export.h
  ${INCLUDEDIR}/guestmem/vm.hpp
  ${INCLUDEDIR}/guestmem/guest_memory.hpp
  ${INCLUDEDIR}/guestmem/guest_ram.hpp
  ${INCLUDEDIR}/guestmem/sim.hpp
  ${LIBDIR}/libguestmem.a
  ${LIBDIR}/libguestmem.so
  ${LIBDIR}/libguestmem.so.${SOVERSION}
  ${LIBDIR}/libguestmem.so.${VERSION}
  ${LIBDIR}/cmake/guestmem/guestmemConfig.cmake
  ${LIBDIR}/cmake/guestmem/guestmemConfigVersion.cmake
  ${LIBDIR}/cmake/guestmem/guestmemTargets.cmake
  ${LIBDIR}/pkgconfig/guestmem.pc)
if(WITH_KVM)
  list(APPEND expected ${INCLUDEDIR}/guestmem/kvm.hpp)
else()
  if(EXISTS "${PREFIX}/${INCLUDEDIR}/guestmem/kvm.hpp")
    message(FATAL_ERROR "kvm.hpp installed by a build without the KVM backend")
  endif()
endif()
foreach(file IN LISTS expected)
  if(NOT EXISTS "${PREFIX}/${file}")
    message(FATAL_ERROR "not installed: ${file}")
  endif()
endforeach()
# Nothing private leaks into the include directory.
file(GLOB_RECURSE headers RELATIVE "${PREFIX}/${INCLUDEDIR}" "${PREFIX}/${INCLUDEDIR}/*")
foreach(header IN LISTS headers)
  if(NOT header MATCHES "^(sel4vm/((arch|sel4_arch)/)?[a-z0-9_]+\\.h|guestmem/[a-z0-9_]+\\.hpp|guestmem/export\\.h)$")
    message(FATAL_ERROR "unexpected file installed: ${INCLUDEDIR}/${header}")
  endif()
endforeach()
message(STATUS "installed into ${PREFIX}")
