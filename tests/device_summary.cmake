# scripts/device_summary.py (label cpu): the tables it prints from a directory of JSON files, here ones that train
# and bench_step write on the CPU backend. Run as a script (cmake -DPYTHON=... -DBUILD=... -DSCRIPT=... -DWORKDIR=...
# -P device_summary.cmake) it writes the two files into a fresh WORKDIR, then checks the summary's rows.
if(CMAKE_SCRIPT_MODE_FILE)
  file(REMOVE_RECURSE ${WORKDIR})
  file(MAKE_DIRECTORY ${WORKDIR})
  file(WRITE ${WORKDIR}/notes.json "[1, 2]")  # not a tool's JSON: listed as not summarised
  foreach(command
      "${BUILD}/train;--device;cpu;--rows;6000;--epochs;2;--batch-size;512;--hidden;16;--shuffle;--gemm;cublaslt;--json;train_lt.json"
      "${BUILD}/bench_step;--device;cpu;--train-rows;5000;--test-rows;1000;--batch-size;512;--hidden;16;--repeats;1;--gemm-size;64;--copy-mib;1;--json;bench_step.json"
      "${PYTHON};${SCRIPT};${WORKDIR}")
    execute_process(COMMAND ${command} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                    ERROR_VARIABLE out TIMEOUT 300)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "expected exit 0, got ${rc} from: ${command}\noutput:\n${out}")
    endif()
  endforeach()
  foreach(regex "### train" "\\| train_lt\\.json \\| cpu \\| [0-9-]+ \\| fp32, gemm cublaslt, shuffled \\| 2 \\| [0-9.]+ \\| auc 0\\.[0-9]+ \\|"
                "### bench_step" "\\| bench_step\\.json \\| cpu \\| fp32 \\| cublas \\| [0-9.]+ \\| [0-9.]+ \\| [0-9.]+ \\|"
                "not summarised: notes\\.json")
    if(NOT out MATCHES "${regex}")
      message(FATAL_ERROR "the summary does not match /${regex}/:\n${out}")
    endif()
  endforeach()
  return()
endif()

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME device_summary.tables
    COMMAND ${CMAKE_COMMAND} -DPYTHON=${Python3_EXECUTABLE} -DBUILD=${PROJECT_BINARY_DIR}
            -DSCRIPT=${PROJECT_SOURCE_DIR}/scripts/device_summary.py -DWORKDIR=${CMAKE_CURRENT_BINARY_DIR}/device_summary
            -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(device_summary.tables PROPERTIES LABELS cpu TIMEOUT 300)
endif()
