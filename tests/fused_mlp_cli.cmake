# build/bench_fused_mlp (the fused bf16 MLP passes against the engine's per-layer ones, CUDA only), label gpu. Run as
# a script (cmake -DCOMMAND=a;b;c -P fused_mlp_cli.cmake): on a machine with a CUDA device the tool compares the
# fused passes' outputs (and with --backward, the gradients) with the engine's and must exit 0 (it exits 1 past its
# bound); without one it must exit 1 saying that it needs a CUDA device, and the test then reports itself skipped
# (FASTTAB_TEST_SKIPPED).
if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out TIMEOUT 300)
  include(${CMAKE_CURRENT_LIST_DIR}/cmake/cuda_only_tool.cmake)
  skip_without_cuda_device(bench_fused_mlp)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "relative L2 difference")
    message(FATAL_ERROR "expected exit 0 and the comparison, got ${rc} from: ${COMMAND}\noutput:\n${out}")
  endif()
  message("${out}")
  return()
endif()

add_dependencies(fasttab_tests bench_fused_mlp)
function(fused_mlp_test name)
  add_test(NAME fused_mlp_cli.${name}
    COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${PROJECT_BINARY_DIR}/bench_fused_mlp;${ARGN}" -P ${CMAKE_CURRENT_FUNCTION_LIST_FILE})
  set_tests_properties(fused_mlp_cli.${name} PROPERTIES LABELS gpu TIMEOUT 300
                       SKIP_REGULAR_EXPRESSION "FASTTAB_TEST_SKIPPED")
endfunction()
# Inference: the seed's model (tanh, 21-300x4-1) over two batches; odd widths with relu over a partial last block.
fused_mlp_test(seed --rows 32768 --repeats 3)
fused_mlp_test(odd_relu --rows 1000 --inputs 7 --hidden 45,300,17 --activation relu --repeats 2)
# The training pass: the engine's dropout masks (exit 1 when a first-layer zero differs) and logits.
fused_mlp_test(training --rows 5000 --training --repeats 2)
# The backward pass after it: every layer's dW and db against the engine's (exit 1 past the bound).
fused_mlp_test(backward --rows 5000 --training --backward --repeats 2)
fused_mlp_test(backward_odd_relu --rows 1000 --inputs 7 --hidden 45,300,17 --activation relu --training --backward
               --repeats 2)
