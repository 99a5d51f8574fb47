# compare_loaders on the CPU backend (label cpu): a small synthetic table, all four loaders, shuffled; the tool
# must exit 0 and write JSON with "identical_batches": true and one entry per loader.
# This file is also the test's script: run with -P and COMPARE_LOADERS_TOOL set, it runs the tool and checks.
if(DEFINED COMPARE_LOADERS_TOOL)
  execute_process(
    COMMAND ${COMPARE_LOADERS_TOOL} --device cpu --rows 6000 --test-rows 1000 --hidden 32,32 --batch-size 512
            --epochs 3 --eval-every 4 --shuffle --json ${OUT_DIR}/compare_loaders.json
            --plot ${OUT_DIR}/compare_loaders.svg
    RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "compare_loaders exited with ${status}")
  endif()
  file(READ ${OUT_DIR}/compare_loaders.json json)
  string(JSON identical GET "${json}" identical_batches)
  string(JSON loaders LENGTH "${json}" loaders)
  string(JSON device GET "${json}" device)
  if(NOT identical STREQUAL "ON" OR NOT loaders EQUAL 4 OR NOT device STREQUAL "cpu")
    message(FATAL_ERROR "compare_loaders JSON: identical_batches ${identical}, ${loaders} loaders, device ${device}")
  endif()
  foreach(i RANGE 3)
    foreach(key name s_per_epoch loader_s_per_epoch samples_per_s speedup train_loss test_auc extrapolated)
      string(JSON value ERROR_VARIABLE missing GET "${json}" loaders ${i} ${key})
      if(missing)
        message(FATAL_ERROR "compare_loaders JSON: loaders[${i}] has no ${key}")
      endif()
    endforeach()
  endforeach()
  if(NOT EXISTS ${OUT_DIR}/compare_loaders.svg)
    message(FATAL_ERROR "compare_loaders wrote no --plot file")
  endif()
  return()
endif()

add_test(NAME compare_loaders_cpu
  COMMAND ${CMAKE_COMMAND} -DCOMPARE_LOADERS_TOOL=$<TARGET_FILE:compare_loaders> -DOUT_DIR=${CMAKE_CURRENT_BINARY_DIR}
          -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(compare_loaders_cpu PROPERTIES LABELS cpu TIMEOUT 120)

add_test(NAME compare_loaders_unknown_loader COMMAND compare_loaders --device cpu --rows 2000 --loaders gather,fast)
set_tests_properties(compare_loaders_unknown_loader PROPERTIES LABELS cpu TIMEOUT 60
  PASS_REGULAR_EXPRESSION "unknown loader 'fast'; the loaders are: per-sample, per-sample-device, slice, gather")
