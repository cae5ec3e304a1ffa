# SPDX-License-Identifier: BSD-2-Clause
# The Debian packages, as a user installs them: `cpack -G DEB` on the build in
# BUILD_DIR (output in WORK, the build tree is left alone), then every .deb is
# unpacked with `dpkg -x` into WORK/root (no root rights needed), its control
# fields are checked, and the consumer examples are built against WORK/root/usr
# (CMake package and pkg-config) and run.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "${command} failed (${rc}):\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

run("${CPACK_COMMAND}" -G DEB --config "${BUILD_DIR}/CPackConfig.cmake" -B "${WORK}/out")

set(runtime libguestmem${SOVERSION})
set(packages ${runtime} libguestmem-dev)
if(WITH_VMM)
  list(APPEND packages guestmem-vmm)
endif()
file(GLOB debs "${WORK}/out/*.deb")
list(LENGTH debs count)
list(LENGTH packages expected_count)
if(NOT count EQUAL expected_count)
  message(FATAL_ERROR "cpack made ${count} packages, expected ${expected_count} (${packages}): ${debs}")
endif()

# The control field FIELD of package NAME, in VAR.
function(control_field var name field)
  file(GLOB deb "${WORK}/out/${name}_*.deb")
  if(NOT deb)
    message(FATAL_ERROR "no package ${name} in ${WORK}/out")
  endif()
  run(dpkg-deb -f "${deb}" ${field})
  string(STRIP "${run_output}" value)
  set(${var} "${value}" PARENT_SCOPE)
endfunction()

# Depends of NAME must match every regular expression given.
function(expect_depends name)
  control_field(depends ${name} Depends)
  foreach(pattern IN LISTS ARGN)
    if(NOT depends MATCHES "${pattern}")
      message(FATAL_ERROR "${name}: Depends \"${depends}\" lacks ${pattern}")
    endif()
  endforeach()
  message(STATUS "${name}: Depends: ${depends}")
endfunction()

# The runtime package tells dpkg-shlibdeps of later packages where the
# library is (CPack writes shlibs where `file` is installed).
if(WITH_SHLIBS)
  file(GLOB runtime_deb "${WORK}/out/${runtime}_*.deb")
  run(dpkg-deb --info "${runtime_deb}" shlibs)
  if(NOT run_output MATCHES "^libguestmem ${SOVERSION} ${runtime} \\(>= ${VERSION}\\)")
    message(FATAL_ERROR "${runtime}: shlibs is \"${run_output}\"")
  endif()
endif()

foreach(name IN LISTS packages)
  control_field(version ${name} Version)
  if(NOT version STREQUAL VERSION)
    message(FATAL_ERROR "${name}: Version ${version}, expected ${VERSION}")
  endif()
endforeach()

set(binary_depends "(^|, )libc6( |,|$)" "(^|, )libstdc\\+\\+6( |,|$)")
set(unicorn_depends "(^|, )libunicorn2( |,|$)")
set(runtime_depends ${binary_depends})
set(dev_depends "(^|, )${runtime} \\(= ${VERSION}\\)")
if(WITH_EMU)
  list(APPEND runtime_depends ${unicorn_depends})
  list(APPEND dev_depends "(^|, )libunicorn-dev( |,|$)")
endif()
expect_depends(${runtime} ${runtime_depends})
expect_depends(libguestmem-dev ${dev_depends})
if(WITH_VMM)
  set(vmm_depends ${binary_depends})
  if(WITH_EMU)
    list(APPEND vmm_depends ${unicorn_depends})
  endif()
  expect_depends(guestmem-vmm ${vmm_depends})
endif()
# Without the emulator backend nothing may pull in Unicorn.
if(NOT WITH_EMU)
  foreach(name IN LISTS packages)
    control_field(depends ${name} Depends)
    if(depends MATCHES "unicorn")
      message(FATAL_ERROR "${name} depends on Unicorn in a build without the emulator backend: ${depends}")
    endif()
  endforeach()
endif()

# Each package alone holds its own files, and all together make the root.
set(root "${WORK}/root")
file(MAKE_DIRECTORY "${root}")
foreach(name IN LISTS packages)
  file(MAKE_DIRECTORY "${WORK}/alone/${name}")
  file(GLOB deb "${WORK}/out/${name}_*.deb")
  run(dpkg -x "${deb}" "${WORK}/alone/${name}")
  run(dpkg -x "${deb}" "${root}")
endforeach()
function(expect_files name)
  foreach(file IN LISTS ARGN)
    # (a link into another package dangles when its package is alone)
    set(path "${WORK}/alone/${name}/usr/${file}")
    if(NOT EXISTS "${path}" AND NOT IS_SYMLINK "${path}")
      message(FATAL_ERROR "${name} does not hold /usr/${file}")
    endif()
  endforeach()
endfunction()
function(expect_no_files name)
  foreach(pattern IN LISTS ARGN)
    file(GLOB_RECURSE found "${WORK}/alone/${name}/usr/${pattern}")
    if(found)
      message(FATAL_ERROR "${name} holds files of another package: ${found}")
    endif()
  endforeach()
endfunction()
expect_files(${runtime} ${LIBDIR}/libguestmem.so.${SOVERSION} ${LIBDIR}/libguestmem.so.${VERSION})
expect_no_files(${runtime} ${LIBDIR}/libguestmem.so ${LIBDIR}/*.a include/* bin/*)
expect_files(libguestmem-dev ${LIBDIR}/libguestmem.so ${LIBDIR}/libguestmem.a ${LIBDIR}/pkgconfig/guestmem.pc
  ${LIBDIR}/cmake/guestmem/guestmemConfig.cmake include/sel4vm/guest_memory.h include/guestmem/vm.hpp
  include/guestmem/export.h)
expect_no_files(libguestmem-dev ${LIBDIR}/libguestmem.so.* bin/*)
if(WITH_VMM)
  expect_files(guestmem-vmm bin/guestmem-vmm share/guestmem/guests/hello.bin)
  if(EXISTS "${BUILD_DIR}/vmm/guests/aarch64/hello.bin")  # built where AArch64 binutils are
    expect_files(guestmem-vmm share/guestmem/guests/aarch64/hello.bin)
  endif()
  expect_no_files(guestmem-vmm lib/* include/*)
endif()

# The consumers, against the unpacked root only.
foreach(consumer IN ITEMS "c_cmake;consumer_c;-DCONSUMER_SHARED=ON" "c_pkgconfig;consumer_c;-DCONSUMER_USE_PKGCONFIG=ON"
                          "cpp_cmake;consumer_cpp;-DCONSUMER_SHARED=ON")
  list(GET consumer 0 name)
  list(GET consumer 1 exe)
  list(GET consumer 2 option)
  run("${CMAKE_COMMAND}"
    "-DSOURCE_DIR=${SOURCE_DIR}/examples/${exe}"
    "-DBINARY_DIR=${WORK}/consumers/${name}"
    "-DPREFIX=${root}/usr"
    "-DPKG_CONFIG_DIR=${root}/usr/${LIBDIR}/pkgconfig"
    "-DGENERATOR=${GENERATOR}"
    "-DC_COMPILER=${C_COMPILER}"
    "-DCXX_COMPILER=${CXX_COMPILER}"
    "-DFLAGS=${FLAGS}"
    "-DEXE=${exe}"
    "-DOPTIONS=${option}"
    -P "${SOURCE_DIR}/tests/package/build_consumer.cmake")
  # The consumer ran with the unpacked library, not one from the build tree.
  run(readelf -d "${WORK}/consumers/${name}/${exe}")
  if(NOT run_output MATCHES "libguestmem\\.so\\.${SOVERSION}" OR NOT run_output MATCHES "${root}/usr/${LIBDIR}")
    message(FATAL_ERROR "${exe} (${name}) does not load libguestmem.so.${SOVERSION} from ${root}:\n${run_output}")
  endif()
  message(STATUS "${name}: built against the packages and ran")
endforeach()

# The packaged VMM finds its packaged guests (../share/guestmem/guests).
if(WITH_VMM)
  run("${root}/usr/bin/guestmem-vmm" run --guest hello --quiet)
  message(STATUS "guestmem-vmm ran its packaged hello guest")
endif()
message(STATUS "packages: ${debs}")
