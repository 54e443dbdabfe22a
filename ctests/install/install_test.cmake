# SPDX-License-Identifier: BSD-2-Clause
# install_test.cmake: one step of the install test, run with cmake -P.
#   STEP=install      cmake --install the build into PREFIX and check the layout
#   STEP=pkgconfig    build and run the consumers with pkg-config (bsdshim, libkqueue)
#   STEP=find_package build and run the consumer as a CMake project (find_package)
#   STEP=preload      run a /dev/dmover program (not linked with bsdshim) under
#                     LD_PRELOAD=<prefix>/lib/libbsdshim-preload.so
#   STEP=man          the man pages render without warnings
# Variables: BUILD_DIR PREFIX WORK_DIR SOURCE_DIR C_COMPILER GENERATOR LIBDIR
# INCLUDEDIR MANDIR BINDIR HAVE_TOOL PKG_CONFIG RUNTIME_PATH MAN_DIR.
cmake_minimum_required(VERSION 3.25)

# Runs a command and fails the test with its output when it fails.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REPLACE ";" " " shown "${ARGN}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${shown}\n${out}\n${err}")
  endif()
  message(STATUS "ok: ${shown}\n${out}")
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# Runs a consumer program; with a dynamic Swift runtime (non-release builds)
# the runtime's directory is added, as a real user's system would have it.
function(run_consumer exe)
  if(RUNTIME_PATH)
    run(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${RUNTIME_PATH}" ${exe})
  else()
    run(${exe})
  endif()
endfunction()

function(expect_files)
  foreach(f ${ARGN})
    if(NOT EXISTS "${PREFIX}/${f}")
      message(FATAL_ERROR "not installed: ${f}")
    endif()
  endforeach()
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}" "${WORK_DIR}")
  run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}")
  expect_files(
    ${LIBDIR}/libbsdshim.so ${LIBDIR}/libbsdshim.so.0
    ${LIBDIR}/libbsdshim-preload.so ${LIBDIR}/libbsdshim-preload.so.0
    ${INCLUDEDIR}/sys/event.h ${INCLUDEDIR}/kqueue/sys/event.h
    ${INCLUDEDIR}/dev/dmover/dmovervar.h ${INCLUDEDIR}/dev/dmover/dmover_io.h
    ${LIBDIR}/pkgconfig/bsdshim.pc ${LIBDIR}/pkgconfig/libkqueue.pc
    ${LIBDIR}/cmake/bsdshim/bsdshimConfig.cmake ${LIBDIR}/cmake/bsdshim/bsdshimConfigVersion.cmake
    ${LIBDIR}/cmake/bsdshim/bsdshimTargets.cmake
    ${MANDIR}/man2/kqueue.2 ${MANDIR}/man2/kevent.2 ${MANDIR}/man3/dmover.3
    ${MANDIR}/man4/dmoverio.4 ${MANDIR}/man1/bsdshim.1)
  if(HAVE_TOOL)
    expect_files(${BINDIR}/bsdshim)
  endif()

elseif(STEP STREQUAL "pkgconfig")
  if(NOT PKG_CONFIG)
    message("SKIPPED: pkg-config is not installed")
    return()
  endif()
  file(MAKE_DIRECTORY "${WORK_DIR}")
  # Only the installed tree: PKG_CONFIG_PATH as a user sets it, and no system directories.
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${LIBDIR}/pkgconfig")
  set(ENV{PKG_CONFIG_LIBDIR} "${PREFIX}/${LIBDIR}/pkgconfig")
  foreach(pair "bsdshim|consumer.c" "libkqueue|libkqueue_consumer.c")
    string(REPLACE "|" ";" pair "${pair}")
    list(GET pair 0 pc)
    list(GET pair 1 src)
    run(${PKG_CONFIG} --cflags --libs ${pc})
    separate_arguments(flags UNIX_COMMAND "${run_output}")
    run(${PKG_CONFIG} --variable=libdir ${pc})
    string(STRIP "${run_output}" libdir)
    file(REAL_PATH "${libdir}" libdir)
    file(REAL_PATH "${PREFIX}/${LIBDIR}" want)
    if(NOT libdir STREQUAL want)
      message(FATAL_ERROR "${pc}.pc: libdir ${libdir}, expected ${want}")
    endif()
    set(exe "${WORK_DIR}/pc_${pc}")
    run(${C_COMPILER} -std=c11 -D_DEFAULT_SOURCE -Wall -Werror "${SOURCE_DIR}/${src}" -o "${exe}" ${flags}
        "-Wl,-rpath,${libdir}")
    run_consumer("${exe}")
  endforeach()

elseif(STEP STREQUAL "find_package")
  set(build "${WORK_DIR}/find_package")
  file(REMOVE_RECURSE "${build}")
  # System package paths are off so that only the installed tree can be found.
  run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/consumer" -B "${build}" -G "${GENERATOR}"
      "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_PREFIX_PATH=${PREFIX}"
      -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
  file(STRINGS "${build}/CMakeCache.txt" dir REGEX "^bsdshim_DIR:")
  string(REGEX REPLACE "^[^=]*=" "" dir "${dir}")
  file(REAL_PATH "${dir}" dir)
  file(REAL_PATH "${PREFIX}/${LIBDIR}/cmake/bsdshim" want)
  if(NOT dir STREQUAL want)
    message(FATAL_ERROR "find_package found ${dir}, expected ${want}")
  endif()
  run(${CMAKE_COMMAND} --build "${build}")
  run_consumer("${build}/consumer")

elseif(STEP STREQUAL "preload")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  set(exe "${WORK_DIR}/netbsd_dmover")
  run(${C_COMPILER} -std=c11 -D_DEFAULT_SOURCE -Wall -Werror "${SOURCE_DIR}/netbsd_dmover.c" -o "${exe}"
      "-I${PREFIX}/${INCLUDEDIR}")
  set(env "LD_PRELOAD=${PREFIX}/${LIBDIR}/libbsdshim-preload.so")
  if(RUNTIME_PATH)
    list(APPEND env "LD_LIBRARY_PATH=${RUNTIME_PATH}")
  endif()
  run(${CMAKE_COMMAND} -E env ${env} "${exe}")
  # Control: without the preload there is no /dev/dmover on Linux.
  execute_process(COMMAND "${exe}" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    message(FATAL_ERROR "netbsd_dmover succeeded without the preload library")
  endif()

elseif(STEP STREQUAL "man")
  find_program(GROFF groff)
  if(NOT GROFF)
    message("SKIPPED: groff is not installed")
    return()
  endif()
  foreach(page kqueue.2 kevent.2 dmover.3 dmoverio.4 bsdshim.1)
    # -ww: all warnings; -z: format, print nothing. Any message fails. Some mdoc
    # warnings only show when paginated (-rcR=0), as man(1) may render a page.
    foreach(mode 1 0)
      execute_process(COMMAND ${GROFF} -mandoc -ww -z -Tutf8 -rcR=${mode} "${MAN_DIR}/${page}"
                      RESULT_VARIABLE rc ERROR_VARIABLE err)
      if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
        message(FATAL_ERROR "${page}: groff reports\n${err}")
      endif()
    endforeach()
    message(STATUS "ok: ${page}")
  endforeach()

else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
