# CTest driver of the C embedding example (registered in the top CMakeLists.txt):
#   1. cmake --install the main build into BUILD_DIR/stage (emptied first, so
#      only what the install rules copy is there);
#   2. configure and build tests/embed_c as a separate project against that
#      prefix (find_package(Sharpmax) through CMAKE_PREFIX_PATH);
#   3. run the example on the CPU device: the thread-per-row kernel, then a
#      warp-per-row one (fibers, shuffles). It exits non-zero on a mismatch.
#      Then linear_xent_embed (the _simd, then the _block kernels) and README.md's
#      short example, both linked to Sharpmax::sharpmax_host.
# Arguments (-D): BUILD_DIR, SOURCE_DIR (tests/embed_c), CONFIG, GENERATOR, C_COMPILER.
cmake_minimum_required(VERSION 3.24)
foreach(var BUILD_DIR SOURCE_DIR GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_embed_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()
set(stage "${BUILD_DIR}/stage")
set(example_build "${BUILD_DIR}/embed_c")

function(run)
  string(REPLACE ";" " " text "${ARGN}")
  message("\$ ${text}")
  execute_process(COMMAND ${ARGN} COMMAND_ECHO NONE RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${text}")
  endif()
endfunction()

file(REMOVE_RECURSE "${stage}" "${example_build}")
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --config ${CONFIG} --prefix "${stage}")
set(configure ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${example_build}" -G "${GENERATOR}"
  "-DCMAKE_PREFIX_PATH=${stage}" -DCMAKE_BUILD_TYPE=${CONFIG})
if(C_COMPILER)
  list(APPEND configure "-DCMAKE_C_COMPILER=${C_COMPILER}")
endif()
run(${configure})
run(${CMAKE_COMMAND} --build "${example_build}" --config ${CONFIG})

if(WIN32)  # readme_example links to the DLL, which is installed in bin/
  set(ENV{PATH} "${stage}/bin;$ENV{PATH}")
endif()
find_program(example xent_embed PATHS "${example_build}" "${example_build}/${CONFIG}" NO_DEFAULT_PATH REQUIRED)
run("${example}" --device cpu)
run("${example}" --device cpu --kernel warp32)
find_program(linear_xent_example linear_xent_embed PATHS "${example_build}" "${example_build}/${CONFIG}" NO_DEFAULT_PATH REQUIRED)
run("${linear_xent_example}" simd)
run("${linear_xent_example}" block)
find_program(readme_example readme_example PATHS "${example_build}" "${example_build}/${CONFIG}" NO_DEFAULT_PATH REQUIRED)
run("${readme_example}")
