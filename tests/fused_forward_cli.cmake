# build/bench_fused_forward (the fused-forward experiment, CUDA only), label gpu. Run as a script (cmake
# -DCOMMAND=a;b;c -P fused_forward_cli.cmake): on a machine with a CUDA device the tool compares the fused kernel's
# outputs with the engine's bf16 forward pass and must exit 0 (it exits 1 past its bound); without one it must exit 1
# saying that it needs a CUDA device, and the test then reports itself skipped (FASTTAB_TEST_SKIPPED).
if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 300)
  include(${CMAKE_CURRENT_LIST_DIR}/cmake/cuda_only_tool.cmake)
  skip_without_cuda_device(bench_fused_forward)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "relative L2 difference")
    message(FATAL_ERROR "expected exit 0 and the comparison, got ${rc} from: ${COMMAND}\noutput:\n${out}")
  endif()
  message("${out}")
  return()
endif()

add_dependencies(fasttab_tests bench_fused_forward)
# The seed's model (tanh, 21-300x4-1) over two batches; odd widths with relu over a partial last block of rows.
function(fused_forward_test name)
  add_test(NAME fused_forward_cli.${name}
    COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${PROJECT_BINARY_DIR}/bench_fused_forward;${ARGN}" -P ${CMAKE_CURRENT_FUNCTION_LIST_FILE})
  set_tests_properties(fused_forward_cli.${name} PROPERTIES LABELS gpu TIMEOUT 300
                       SKIP_REGULAR_EXPRESSION "FASTTAB_TEST_SKIPPED")
endfunction()
fused_forward_test(seed --rows 32768 --repeats 3)
fused_forward_test(odd_relu --rows 1000 --inputs 7 --hidden 45,300,17 --activation relu --repeats 2)
# The training pass: the engine's dropout masks (exit 1 when a first-layer zero differs) and logits.
fused_forward_test(training --rows 5000 --training --repeats 2)
# The fused backward pass after it (experiments/fused_mlp/fused_backward.cuh): every layer's dW and db against the
# engine's backward pass (exit 1 past the bound), on the seed's model over a partial last block.
fused_forward_test(backward --rows 5000 --training --backward --repeats 2)
