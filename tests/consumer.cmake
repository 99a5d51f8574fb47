# The installed package works from an outside project: install this build into a scratch prefix, configure
# and build tests/consumer against it with find_package(fasttab), and run it.
set(FASTTAB_CONSUMER_DIR ${CMAKE_CURRENT_BINARY_DIR}/consumer)
add_test(NAME install_and_consume
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer
    -DWORK_DIR=${FASTTAB_CONSUMER_DIR} -DCXX=${CMAKE_CXX_COMPILER}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run_consumer.cmake)
set_tests_properties(install_and_consume PROPERTIES LABELS cpu TIMEOUT 600 PASS_REGULAR_EXPRESSION "consumer: test AUC")
