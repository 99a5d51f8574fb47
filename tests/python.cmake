# The Python package's tests (python/tests/test_*.py), one CTest test per file, label "python": pytest with
# the interpreter CMake found (.venv/bin/python from scripts/setup.sh) on the module built into build/python.
# Reported as skipped (exit 77) when the module is not built (FASTTAB_BUILD_PYTHON OFF) or pytest is missing.
file(GLOB FASTTAB_PYTHON_TEST_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/tests/test_*.py)
foreach(f ${FASTTAB_PYTHON_TEST_FILES})
  get_filename_component(name ${f} NAME_WE)
  add_test(NAME python/${name} COMMAND sh ${PROJECT_SOURCE_DIR}/python/tests/run_pytest.sh ${PROJECT_BINARY_DIR} ${f})
  set_tests_properties(python/${name} PROPERTIES LABELS python SKIP_RETURN_CODE 77 TIMEOUT 600)
  # The GPU file skips itself without a CUDA device, its reason (printed by pytest -rs) naming the marker.
  if(name STREQUAL "test_cuda_arrays")
    set_tests_properties(python/${name} PROPERTIES LABELS "python;gpu" SKIP_REGULAR_EXPRESSION "FASTTAB_GPU_SKIPPED")
  endif()
endforeach()
