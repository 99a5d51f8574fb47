# The documentation is run, not just read (label cpu): each `$ build/...` command shown in docs/usage.md and in
# the README's examples runs on the CPU backend over ../shared/data, and what it prints is compared with what
# the document shows (tests/docs/check_doc_commands.py: words exactly, figures within a stated bound, timings
# ignored). Skipped when the shared data is absent.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  foreach(doc README.md docs/usage.md)
    string(REPLACE "/" "_" _doc_name ${doc})
    add_test(NAME "documented commands: ${doc}"
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_doc_commands.py
              ${PROJECT_SOURCE_DIR}/${doc} ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}/../shared/data)
    set_tests_properties("documented commands: ${doc}" PROPERTIES LABELS "cpu;docs" TIMEOUT 900 SKIP_RETURN_CODE 77
      ENVIRONMENT "OMP_NUM_THREADS=1")
  endforeach()
endif()
