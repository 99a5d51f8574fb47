# For the script-mode tests of CUDA-only tools (bench_gemm_cli.cmake, fused_mlp_cli.cmake), after their
# execute_process into `rc` and `out`: when the tool says that it needs a CUDA device, it must have exited 1, and the
# test reports itself skipped (FASTTAB_TEST_SKIPPED) and ends there (a macro: its return() leaves the script).
macro(skip_without_cuda_device tool)
  if(out MATCHES "${tool} needs a CUDA device, and this machine has none")
    if(NOT rc EQUAL 1)
      message(FATAL_ERROR "without a CUDA device: expected exit 1, got ${rc}:\n${out}")
    endif()
    message("FASTTAB_TEST_SKIPPED: no CUDA device (the tool refused with exit 1, as it should)")
    return()
  endif()
endmacro()
