# Command-line tests of build/train and build/predict (label cpu, CPU backend).
#
# This file has two modes. Included from tests/CMakeLists.txt it registers the tests; run as a script
# (cmake -DEXPECT=fail|pass -DREGEX=... -DCOMMAND=a;b;c -DWORKDIR=... -P train_cli.cmake) it runs one command and
# checks its exit code and that its output (stdout and stderr together) matches REGEX. With -DJSON=file
# -DJSON_KEYS=a;b it also checks that the JSON file has those top-level keys (and EPOCH_KEYS in every epochs[i]).
if(CMAKE_SCRIPT_MODE_FILE)
  if(WORKDIR)
    file(MAKE_DIRECTORY ${WORKDIR})
  endif()
  execute_process(COMMAND ${COMMAND} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out TIMEOUT 300)
  if(EXPECT STREQUAL "fail")
    if(rc EQUAL 0)
      message(FATAL_ERROR "expected a non-zero exit from: ${COMMAND}\noutput:\n${out}")
    endif()
    if(NOT rc MATCHES "^[0-9]+$")
      message(FATAL_ERROR "the command did not exit normally (${rc}): ${COMMAND}\noutput:\n${out}")
    endif()
  elseif(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected exit 0, got ${rc} from: ${COMMAND}\noutput:\n${out}")
  endif()
  if(NOT out MATCHES "${REGEX}")
    message(FATAL_ERROR "the output does not match /${REGEX}/: ${COMMAND}\noutput:\n${out}")
  endif()
  if(SAME_AS)  # -DSAME_AS=command: it must print the same losses and metrics ("train loss ..." to the line's end)
    execute_process(COMMAND ${SAME_AS} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc2 OUTPUT_VARIABLE out2
                    ERROR_VARIABLE out2 TIMEOUT 300)
    string(REGEX MATCHALL "train loss [^\n]*" figures "${out}")
    string(REGEX MATCHALL "train loss [^\n]*" figures2 "${out2}")
    if(NOT rc2 EQUAL 0 OR NOT figures OR NOT figures STREQUAL figures2)
      message(FATAL_ERROR "${COMMAND}\nand ${SAME_AS}\nprint different figures (exit ${rc} and ${rc2}):\n${out}\n${out2}")
    endif()
  endif()
  if(JSON)
    file(READ ${WORKDIR}/${JSON} text)
    foreach(key ${JSON_KEYS})
      string(JSON value ERROR_VARIABLE err GET "${text}" ${key})
      if(err)
        message(FATAL_ERROR "${JSON} lacks the key \"${key}\": ${err}")
      endif()
    endforeach()
    string(JSON epochs LENGTH "${text}" epochs)
    if(epochs LESS 1)
      message(FATAL_ERROR "${JSON}: \"epochs\" is empty")
    endif()
    math(EXPR last "${epochs} - 1")
    foreach(i RANGE ${last})
      foreach(key ${EPOCH_KEYS})
        string(JSON value ERROR_VARIABLE err GET "${text}" epochs ${i} ${key})
        if(err)
          message(FATAL_ERROR "${JSON}: epochs[${i}] lacks the key \"${key}\"")
        endif()
      endforeach()
    endforeach()
    string(JSON n GET "${text}" epochs 0 epoch)
    if(NOT n EQUAL 1)
      message(FATAL_ERROR "${JSON}: epochs[0].epoch is ${n}, not 1")
    endif()
  endif()
  return()
endif()

# ---- registration ------------------------------------------------------------------------------------------
add_dependencies(fasttab_tests train predict)  # test_predict.cpp and test_checkpoint_resume.cpp run the tools
set(_cli_dir ${CMAKE_CURRENT_BINARY_DIR}/train_cli)
set(_train ${PROJECT_BINARY_DIR}/train)

# train_cli_fail(NAME REGEX args...): train with args exits non-zero and prints something matching REGEX.
function(train_cli_fail name regex)
  add_test(NAME train_cli.${name}
    COMMAND ${CMAKE_COMMAND} -DEXPECT=fail "-DREGEX=${regex}" "-DCOMMAND=${_train};${ARGN}" -DWORKDIR=${_cli_dir}
            -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(train_cli.${name} PROPERTIES LABELS cpu TIMEOUT 300)
endfunction()

train_cli_fail(batch_size_zero "--batch-size" --device cpu --batch-size 0)
train_cli_fail(hidden_zero "--hidden" --device cpu --hidden 300,0)
train_cli_fail(epochs_zero "--epochs" --device cpu --epochs 0)
train_cli_fail(dropout_too_large "--dropout" --device cpu --dropout 1.5)
train_cli_fail(device_unknown "--device.*gpu|gpu.*--device" --device gpu)
train_cli_fail(unknown_flag "--no-such-flag" --device cpu --no-such-flag 3)
train_cli_fail(data_missing "missing\\.csv" --device cpu --data missing.csv)
train_cli_fail(smaller_than_one_batch "fewer than one batch of 4096" --device cpu --rows 1000 --batch-size 4096)
train_cli_fail(test_rows_too_many "--test-rows 5000" --device cpu --rows 2000 --test-rows 5000)
train_cli_fail(resume_missing "--resume.*no-such\\.ckpt|no-such\\.ckpt" --device cpu --resume no-such.ckpt)

add_test(NAME train_cli.tiny_run_json
  COMMAND ${CMAKE_COMMAND} -DEXPECT=pass "-DREGEX=summary: .* s/epoch over 2 epochs"
          "-DCOMMAND=${_train};--device;cpu;--rows;20000;--epochs;2;--batch-size;1024;--hidden;32,32;--json;tiny_run.json"
          -DWORKDIR=${_cli_dir} -DJSON=tiny_run.json
          "-DJSON_KEYS=device;backend;train_rows;test_rows;batch_size;epochs;s_per_epoch;test_auc;bayes_auc"
          "-DEPOCH_KEYS=epoch;seconds;samples_per_s;train_loss;test_loss;test_auc"
          -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.tiny_run_json PROPERTIES LABELS cpu TIMEOUT 300)
train_cli_fail(save_into_missing_directory "--save no-such-dir/run\\.ckpt: the directory .*no-such-dir does not exist"
               --device cpu --rows 3000 --save no-such-dir/run.ckpt)

# --precision bf16: a run saves a bf16 model; predict runs its forward pass in bf16 (the checkpoint's precision).
train_cli_fail(precision_unknown "--precision" --device cpu --precision fp8)
add_test(NAME train_cli.bf16_save
  COMMAND ${CMAKE_COMMAND} -DEXPECT=pass "-DREGEX=summary: .* s/epoch over 2 epochs"
          "-DCOMMAND=${_train};--device;cpu;--rows;6000;--epochs;2;--batch-size;256;--hidden;16;--precision;bf16;--save;bf16.ckpt;--overwrite;--export-npy;bf16.npy"
          -DWORKDIR=${_cli_dir} -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.bf16_save PROPERTIES LABELS cpu TIMEOUT 300 FIXTURES_SETUP bf16_model)
add_test(NAME train_cli.bf16_predict
  COMMAND ${CMAKE_COMMAND} -DEXPECT=pass "-DREGEX=precision bf16.*wrote 6000 predictions"
          "-DCOMMAND=${PROJECT_BINARY_DIR}/predict;--device;cpu;--model;bf16.ckpt;--data;bf16.npy;--out;bf16_predictions.csv"
          -DWORKDIR=${_cli_dir} -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.bf16_predict PROPERTIES LABELS cpu TIMEOUT 300 FIXTURES_REQUIRED bf16_model)
# --gemm: the checkpoint records the GEMM library (it decides the bits of a GPU run): resuming with another is
# refused, naming the flag; an unknown library is refused.
train_cli_fail(gemm_unknown "--gemm" --device cpu --gemm cutlass)
add_test(NAME train_cli.gemm_resume_other_library
  COMMAND ${CMAKE_COMMAND} -DEXPECT=fail "-DREGEX=gemm \\(--gemm\\) is \"cublas\" in the checkpoint but \"cublaslt\""
          "-DCOMMAND=${_train};--device;cpu;--rows;6000;--epochs;3;--batch-size;256;--hidden;16;--precision;bf16;--resume;bf16.ckpt;--gemm;cublaslt"
          -DWORKDIR=${_cli_dir} -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.gemm_resume_other_library PROPERTIES LABELS cpu TIMEOUT 300 FIXTURES_REQUIRED bf16_model)
# --cuda-graphs on the CPU backend (the captured step called again each step): the same figures as without it.
set(_captured_args "--device;cpu;--rows;8000;--epochs;3;--batch-size;256;--hidden;32;--dropout;0.3;--shuffle")
add_test(NAME train_cli.cuda_graphs_same_figures
  COMMAND ${CMAKE_COMMAND} -DEXPECT=pass "-DREGEX=epoch   3 .* train loss"
          "-DCOMMAND=${_train};${_captured_args};--cuda-graphs" "-DSAME_AS=${_train};${_captured_args}"
          -DWORKDIR=${_cli_dir} -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.cuda_graphs_same_figures PROPERTIES LABELS cpu TIMEOUT 300)
# --overlap-weight-gradients: the same figures (the CPU runs the side queue's work at the join); the JSON says how
# the step ran.
add_test(NAME train_cli.overlap_same_figures
  COMMAND ${CMAKE_COMMAND} -DEXPECT=pass "-DREGEX=epoch   3 .* train loss"
          "-DCOMMAND=${_train};${_captured_args};--overlap-weight-gradients;--json;overlap.json"
          "-DSAME_AS=${_train};${_captured_args}" -DWORKDIR=${_cli_dir} -DJSON=overlap.json
          "-DJSON_KEYS=precision;gemm;cuda_graphs;pad_hidden;overlap_weight_gradients" -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.overlap_same_figures PROPERTIES LABELS cpu TIMEOUT 300)
# --fused-mlp: the bf16 passes as two kernels (on the CPU their block code with scalar tiles). Refused without bf16,
# with --pad-hidden and for a model it cannot run; a run says in its JSON that it ran fused; resuming the bf16
# model above (per-layer passes) with it is refused, naming the flag.
train_cli_fail(fused_mlp_needs_bf16 "--fused-mlp runs the bf16 passes: give --precision bf16" --device cpu --fused-mlp)
train_cli_fail(fused_mlp_pad "--fused-mlp pads every width to 16 itself" --device cpu --precision bf16 --fused-mlp
               --pad-hidden 8)
train_cli_fail(fused_mlp_wide "--fused-mlp cannot run this model: every width .* must be at most 320" --device cpu
               --rows 3000 --precision bf16 --fused-mlp --hidden 400)
add_test(NAME train_cli.fused_mlp_run
  COMMAND ${CMAKE_COMMAND} -DEXPECT=pass "-DREGEX=note: --fused-mlp on the CPU runs the GPU kernels' block code.*epoch   2 .* train loss"
          "-DCOMMAND=${_train};--device;cpu;--rows;6000;--epochs;2;--batch-size;256;--hidden;16;--precision;bf16;--fused-mlp;--json;fused.json"
          -DWORKDIR=${_cli_dir} -DJSON=fused.json "-DJSON_KEYS=fused_mlp" -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.fused_mlp_run PROPERTIES LABELS cpu TIMEOUT 300)
add_test(NAME train_cli.fused_mlp_resume_per_layer_model
  COMMAND ${CMAKE_COMMAND} -DEXPECT=fail "-DREGEX=fused_mlp \\(--fused-mlp\\) is false in the checkpoint but true"
          "-DCOMMAND=${_train};--device;cpu;--rows;6000;--epochs;3;--batch-size;256;--hidden;16;--precision;bf16;--resume;bf16.ckpt;--fused-mlp"
          -DWORKDIR=${_cli_dir} -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(train_cli.fused_mlp_resume_per_layer_model PROPERTIES LABELS cpu TIMEOUT 300
                     FIXTURES_REQUIRED bf16_model)
train_cli_fail(pad_hidden_out_of_range "--pad-hidden: 0: must be a finite number in .1, 256." --device cpu --pad-hidden 0)
