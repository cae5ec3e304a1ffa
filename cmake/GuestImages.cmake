# SPDX-License-Identifier: BSD-2-Clause
# guestmem_add_guest_images(<target> SOURCES <a.S>... [ARCH x86_64|aarch64]
#                           [INCLUDE_DIRS <dir>...] [DEPENDS <file>...]
#                           [OUTPUT_DIR <dir>] [LINK_ADDRESS <addr>])
#
# Assembles each guest program (GNU as, C preprocessor) for ARCH (default
# x86_64) into an ELF executable <name>.elf and a flat image <name>.bin,
# linked at LINK_ADDRESS (default 0) into one read-write-execute segment.
# Linked at 0, offsets in the image equal symbol values and
# position-independent code runs wherever it is loaded. <target> builds them
# all (part of ALL).
#
# AArch64 images need a cross assembler: aarch64-linux-gnu-gcc if present,
# otherwise the host C compiler's preprocessor followed by aarch64-linux-gnu-as
# (Debian: binutils-aarch64-linux-gnu). Without one, the AArch64 images are
# skipped with a message, <target> is not created and
# GUESTMEM_AARCH64_GUESTS is set to OFF in the caller's scope (ON otherwise).
function(guestmem_add_guest_images target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR;LINK_ADDRESS;ARCH" "SOURCES;INCLUDE_DIRS;DEPENDS" ${ARGN})
  if(NOT ARG_ARCH)
    set(ARG_ARCH x86_64)
  endif()
  if(NOT ARG_LINK_ADDRESS)
    set(ARG_LINK_ADDRESS 0)
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  set(includes)
  foreach(dir IN LISTS ARG_INCLUDE_DIRS)
    list(APPEND includes -I${dir})
  endforeach()

  # The tools: assemble(src, obj) is one or two commands, then ld and objcopy.
  if(ARG_ARCH STREQUAL "x86_64")
    if(NOT CMAKE_OBJCOPY OR NOT CMAKE_LINKER)
      message(FATAL_ERROR "guest images need objcopy and ld (binutils)")
    endif()
    set(linker ${CMAKE_LINKER})
    set(objcopy ${CMAKE_OBJCOPY})
    set(emulation elf_x86_64)
  elseif(ARG_ARCH STREQUAL "aarch64")
    find_program(GUESTMEM_AARCH64_GCC aarch64-linux-gnu-gcc)
    find_program(GUESTMEM_AARCH64_AS aarch64-linux-gnu-as)
    find_program(GUESTMEM_AARCH64_LD aarch64-linux-gnu-ld)
    find_program(GUESTMEM_AARCH64_OBJCOPY aarch64-linux-gnu-objcopy)
    if(NOT GUESTMEM_AARCH64_LD OR NOT GUESTMEM_AARCH64_OBJCOPY
       OR (NOT GUESTMEM_AARCH64_GCC AND NOT GUESTMEM_AARCH64_AS))
      message(STATUS "AArch64 binutils not found (Debian: binutils-aarch64-linux-gnu): "
                     "AArch64 guest images of ${target} skipped")
      set(GUESTMEM_AARCH64_GUESTS OFF PARENT_SCOPE)
      return()
    endif()
    set(GUESTMEM_AARCH64_GUESTS ON PARENT_SCOPE)
    set(linker ${GUESTMEM_AARCH64_LD})
    set(objcopy ${GUESTMEM_AARCH64_OBJCOPY})
    set(emulation aarch64linux)
  else()
    message(FATAL_ERROR "guestmem_add_guest_images: ARCH must be x86_64 or aarch64, not ${ARG_ARCH}")
  endif()

  file(MAKE_DIRECTORY ${ARG_OUTPUT_DIR})
  set(images)
  foreach(src IN LISTS ARG_SOURCES)
    get_filename_component(name ${src} NAME_WE)
    get_filename_component(src ${src} ABSOLUTE)
    set(out ${ARG_OUTPUT_DIR}/${name})
    if(ARG_ARCH STREQUAL "x86_64")
      set(assemble COMMAND ${CMAKE_C_COMPILER} -c -x assembler-with-cpp ${includes} ${src} -o ${out}.o)
    elseif(GUESTMEM_AARCH64_GCC)
      set(assemble COMMAND ${GUESTMEM_AARCH64_GCC} -c -x assembler-with-cpp ${includes} ${src} -o ${out}.o)
    else()
      # The host compiler cannot target AArch64 but its preprocessor can
      # expand the source for the cross assembler.
      set(assemble
          COMMAND ${CMAKE_C_COMPILER} -E -P -x assembler-with-cpp ${includes} ${src} -o ${out}.s
          COMMAND ${GUESTMEM_AARCH64_AS} ${out}.s -o ${out}.o)
    endif()
    add_custom_command(
      OUTPUT ${out}.bin ${out}.elf
      ${assemble}
      COMMAND ${linker} -m ${emulation} -nostdlib -N -Ttext=${ARG_LINK_ADDRESS} -e _start --build-id=none
              --no-warn-rwx-segments -o ${out}.elf ${out}.o
      COMMAND ${objcopy} -O binary ${out}.elf ${out}.bin
      DEPENDS ${src} ${ARG_DEPENDS}
      COMMENT "Assembling ${ARG_ARCH} guest ${name}"
      VERBATIM)
    list(APPEND images ${out}.bin)
  endforeach()
  add_custom_target(${target} ALL DEPENDS ${images})
endfunction()
