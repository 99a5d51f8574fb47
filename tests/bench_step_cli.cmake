# Command-line tests of build/bench_step on the CPU backend (label cpu): small sizes, --json, and the report's
# shape. No timing is asserted (timings belong in benchmarks): only that every figure is there and positive.
#
# This file has two modes. Included from tests/CMakeLists.txt it registers the tests; run as a script
# (cmake -DCOMMAND=a;b;c -DWORKDIR=... -DJSON=file -P bench_step_cli.cmake) it removes JSON, runs the command,
# expects exit 0 and checks the JSON it wrote: the top-level keys, both ceilings > 0, and for every op its time,
# its bytes or FLOPs, its rate and a finite fraction of its ceiling > 0.
if(CMAKE_SCRIPT_MODE_FILE)
  file(MAKE_DIRECTORY ${WORKDIR})
  file(REMOVE ${WORKDIR}/${JSON})  # a file from an earlier run must not pass for this one's
  execute_process(COMMAND ${COMMAND} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out TIMEOUT 300)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected exit 0, got ${rc} from: ${COMMAND}\noutput:\n${out}")
  endif()
  if(NOT out MATCHES "^bench_step on cpu \\(cpu\\), precision ")
    message(FATAL_ERROR "the output does not start with the device and the precision:\n${out}")
  endif()
  file(READ ${WORKDIR}/${JSON} text)

  # require_positive(path...): the value at that path is a JSON number (so finite: JSON has no NaN or
  # infinity, and bench_step writes null for one) and > 0.
  function(require_positive)
    string(JOIN "." where ${ARGN})
    string(JSON type ERROR_VARIABLE err TYPE "${text}" ${ARGN})
    if(err)
      message(FATAL_ERROR "${JSON}: no ${where}: ${err}")
    elseif(NOT type STREQUAL "NUMBER")
      message(FATAL_ERROR "${JSON}: ${where} is ${type}, not a number")
    endif()
    string(JSON value GET "${text}" ${ARGN})
    if(NOT value GREATER 0)
      message(FATAL_ERROR "${JSON}: ${where} is ${value}, not > 0")
    endif()
  endfunction()

  foreach(key tool device backend precision repeats shapes ceilings ops summary)
    string(JSON value ERROR_VARIABLE err GET "${text}" ${key})
    if(err)
      message(FATAL_ERROR "${JSON} lacks the key \"${key}\": ${err}")
    endif()
  endforeach()
  foreach(key train_rows test_rows batch_size steps_per_epoch parameters)
    require_positive(shapes ${key})
  endforeach()
  foreach(key bytes_moved ms gb_per_s)
    require_positive(ceilings copy ${key})
  endforeach()
  foreach(key flop ms tflop_per_s)
    require_positive(ceilings gemm ${key})
  endforeach()
  require_positive(summary predicted_epoch_s)

  string(JSON ops LENGTH "${text}" ops)
  if(ops LESS 10)
    message(FATAL_ERROR "${JSON}: ${ops} ops, expected the 10 of bench_step")
  endif()
  math(EXPR last "${ops} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${text}" ops ${i} name)
    string(JSON ceiling GET "${text}" ops ${i} ceiling)
    if(ceiling STREQUAL "copy")
      require_positive(ops ${i} bytes)
      require_positive(ops ${i} gb_per_s)
    elseif(ceiling STREQUAL "gemm")
      require_positive(ops ${i} flop)
      require_positive(ops ${i} tflop_per_s)
    else()
      message(FATAL_ERROR "${JSON}: op \"${name}\" has the ceiling \"${ceiling}\", not copy or gemm")
    endif()
    require_positive(ops ${i} ms)
    require_positive(ops ${i} fraction_of_ceiling)
    if(DEFINED EXPECT_OP AND name STREQUAL EXPECT_OP)
      set(found_expected_op TRUE)
    endif()
  endforeach()
  if(DEFINED EXPECT_OP AND NOT found_expected_op)
    message(FATAL_ERROR "${JSON} has no op named \"${EXPECT_OP}\"")
  endif()
  return()
endif()

# ---- registration ------------------------------------------------------------------------------------------
add_dependencies(fasttab_tests bench_step)  # building the tests builds the tool these tests run
set(_bench_dir ${CMAKE_CURRENT_BINARY_DIR}/bench_step_cli)
set(_bench_step ${PROJECT_BINARY_DIR}/bench_step)
set(_bench_small --device cpu --train-rows 20000 --test-rows 5000 --batch-size 512 --hidden 64,64 --repeats 2
                 --gemm-size 256 --copy-mib 16)

foreach(_precision fp32 bf16)
  add_test(NAME bench_step_cli.small_json_${_precision}
    COMMAND ${CMAKE_COMMAND}
            "-DCOMMAND=${_bench_step};${_bench_small};--precision;${_precision};--json;small_${_precision}.json"
            -DWORKDIR=${_bench_dir} -DJSON=small_${_precision}.json
            -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(bench_step_cli.small_json_${_precision} PROPERTIES LABELS cpu TIMEOUT 300)
endforeach()

# --all-reduce on the CPU: a one-rank MPI communicator (a singleton MPI_Init, no mpirun) adds its row.
add_test(NAME bench_step_cli.all_reduce
  COMMAND ${CMAKE_COMMAND}
          "-DCOMMAND=${_bench_step};${_bench_small};--all-reduce;--json;all_reduce.json"
          -DWORKDIR=${_bench_dir} -DJSON=all_reduce.json "-DEXPECT_OP=gradient all-reduce (mpi, 1 rank)"
          -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(bench_step_cli.all_reduce PROPERTIES LABELS cpu TIMEOUT 300)

# --fused-mlp: the step, its passes and the evaluation run the fused bf16 passes (on the CPU their emulation); the
# backward pass's row names them. Without bf16 it is refused, saying what to give.
add_test(NAME bench_step_cli.fused_mlp
  COMMAND ${CMAKE_COMMAND}
          "-DCOMMAND=${_bench_step};${_bench_small};--precision;bf16;--fused-mlp;--json;fused.json"
          -DWORKDIR=${_bench_dir} -DJSON=fused.json "-DEXPECT_OP=backward pass (fused chain + dW GEMMs)"
          -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(bench_step_cli.fused_mlp PROPERTIES LABELS cpu TIMEOUT 300)

# An unwritable --json is refused before anything is measured, with the flag and the reason, and a non-zero exit
# (train_cli.cmake's script mode: EXPECT=fail and the message).
function(bench_step_cli_fail name regex)
  add_test(NAME bench_step_cli.${name}
    COMMAND ${CMAKE_COMMAND} -DEXPECT=fail "-DREGEX=${regex}" "-DCOMMAND=${_bench_step};${ARGN}"
            -DWORKDIR=${_bench_dir} -P ${CMAKE_CURRENT_SOURCE_DIR}/train_cli.cmake)
  set_tests_properties(bench_step_cli.${name} PROPERTIES LABELS cpu TIMEOUT 300)
endfunction()
bench_step_cli_fail(json_into_missing_directory "--json no-such-dir/b\\.json: the directory .*no-such-dir does not exist"
                    --device cpu --json no-such-dir/b.json)
bench_step_cli_fail(json_is_a_directory "--json \\. is a directory" --device cpu --json .)
bench_step_cli_fail(fused_mlp_needs_bf16 "--fused-mlp runs the bf16 passes: give --precision bf16" --device cpu
                    --train-rows 2000 --test-rows 500 --batch-size 64 --hidden 8 --repeats 1 --fused-mlp)
# Fewer training rows than one batch would read past them: refused, naming both flags.
bench_step_cli_fail(train_rows_below_one_batch "--train-rows 1000 is fewer than one --batch-size \\(4096\\)"
                    --device cpu --train-rows 1000 --test-rows 500 --batch-size 4096 --hidden 8 --repeats 1)
# A GEMM ceiling the CPU would compute for hours is refused, naming the flag and the limit.
bench_step_cli_fail(gemm_size_too_large_for_the_cpu "--gemm-size 32768: at most 4096 on the CPU backend"
                    --device cpu --train-rows 2000 --test-rows 500 --batch-size 64 --hidden 8 --repeats 1
                    --gemm-size 32768)
