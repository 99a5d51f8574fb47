# Data-parallel training over MPI (label mpi; CPU backend, so CI needs no GPU): tests/mpi/check_data_parallel.py
# runs `mpirun -np N build/train` and compares it with one process. Skipped (exit 77) where mpirun is absent.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  foreach(_case "equal;2" "equal;3" "fused;3" "resume;2" "shard;2" "shardload;2" "fail;2")
    list(GET _case 0 _mode)
    list(GET _case 1 _np)
    add_test(NAME mpi.${_mode}_np${_np}
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/check_data_parallel.py ${_mode}
              ${PROJECT_BINARY_DIR}/train ${_np} ${CMAKE_CURRENT_BINARY_DIR}/mpi_${_mode}_np${_np})
    set_tests_properties(mpi.${_mode}_np${_np} PROPERTIES LABELS "cpu;mpi" TIMEOUT 600 SKIP_RETURN_CODE 77
                         RUN_SERIAL TRUE)
  endforeach()
endif()
