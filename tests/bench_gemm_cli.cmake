# build/bench_gemm (CUDA only), label gpu. Run as a script (cmake -DCOMMAND=a;b;c -DWORKDIR=... -DJSON=file -P
# bench_gemm_cli.cmake): on a machine with a CUDA device, a small run must exit 0 and write JSON with every GEMM of
# the step (7 for two hidden layers), each with its engine time > 0; without one, the tool must exit 1 saying that it
# needs a CUDA device, and the test then reports itself skipped (FASTTAB_TEST_SKIPPED).
if(CMAKE_SCRIPT_MODE_FILE)
  file(MAKE_DIRECTORY ${WORKDIR})
  file(REMOVE ${WORKDIR}/${JSON})
  execute_process(COMMAND ${COMMAND} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out TIMEOUT 300)
  include(${CMAKE_CURRENT_LIST_DIR}/cmake/cuda_only_tool.cmake)
  skip_without_cuda_device(bench_gemm)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected exit 0, got ${rc} from: ${COMMAND}\noutput:\n${out}")
  endif()
  file(READ ${WORKDIR}/${JSON} text)
  string(JSON count LENGTH "${text}" gemms)
  if(NOT count EQUAL 7)
    message(FATAL_ERROR "${JSON}: ${count} GEMMs, expected 7 (3 layers: forward and weight gradient each, input "
                        "gradient for the 2 hidden ones)")
  endif()
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON ms GET "${text}" gemms ${i} engine_ms)
    if(NOT ms GREATER 0)
      message(FATAL_ERROR "${JSON}: GEMM ${i} has engine_ms ${ms}")
    endif()
  endforeach()
  return()
endif()

add_dependencies(fasttab_tests bench_gemm)
foreach(_precision fp32 bf16)
  add_test(NAME bench_gemm_cli.small_${_precision}
    COMMAND ${CMAKE_COMMAND}
            "-DCOMMAND=${PROJECT_BINARY_DIR}/bench_gemm;--precision;${_precision};--batch-size;1024;--hidden;64,64;--repeats;2;--inner;2;--candidates;3;--json;small_${_precision}.json"
            -DWORKDIR=${CMAKE_CURRENT_BINARY_DIR}/bench_gemm_cli -DJSON=small_${_precision}.json
            -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(bench_gemm_cli.small_${_precision} PROPERTIES LABELS gpu TIMEOUT 300
                       SKIP_REGULAR_EXPRESSION "FASTTAB_TEST_SKIPPED")
endforeach()
