# guestmem_add_guest_images(<target> SOURCES <a.S>... [INCLUDE_DIRS <dir>...]
#                           [DEPENDS <file>...] [OUTPUT_DIR <dir>] [LINK_ADDRESS <addr>])
#
# Assembles each x86-64 guest program (GNU as, C preprocessor) into an ELF
# executable <name>.elf and a flat image <name>.bin, linked at LINK_ADDRESS
# (default 0) into one read-write-execute segment. Linked at 0, offsets in the
# image equal symbol values and position-independent code runs wherever it is
# loaded. <target> builds them all (part of ALL).
function(guestmem_add_guest_images target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR;LINK_ADDRESS" "SOURCES;INCLUDE_DIRS;DEPENDS" ${ARGN})
  if(NOT CMAKE_OBJCOPY OR NOT CMAKE_LINKER)
    message(FATAL_ERROR "guest images need objcopy and ld (binutils)")
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
  file(MAKE_DIRECTORY ${ARG_OUTPUT_DIR})
  set(images)
  foreach(src IN LISTS ARG_SOURCES)
    get_filename_component(name ${src} NAME_WE)
    get_filename_component(src ${src} ABSOLUTE)
    set(out ${ARG_OUTPUT_DIR}/${name})
    add_custom_command(
      OUTPUT ${out}.bin ${out}.elf
      COMMAND ${CMAKE_C_COMPILER} -c -x assembler-with-cpp ${includes} ${src} -o ${out}.o
      COMMAND ${CMAKE_LINKER} -m elf_x86_64 -nostdlib -N -Ttext=${ARG_LINK_ADDRESS} -e _start --build-id=none
              --no-warn-rwx-segments -o ${out}.elf ${out}.o
      COMMAND ${CMAKE_OBJCOPY} -O binary ${out}.elf ${out}.bin
      DEPENDS ${src} ${ARG_DEPENDS}
      COMMENT "Assembling guest ${name}"
      VERBATIM)
    list(APPEND images ${out}.bin)
  endforeach()
  add_custom_target(${target} ALL DEPENDS ${images})
endfunction()
