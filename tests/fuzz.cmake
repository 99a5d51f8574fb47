# libFuzzer target for the CSV parser (tests/fuzz/csv_parser_fuzz.cpp), built with clang++ outside the main
# toolchain (-fsanitize=fuzzer,address needs clang) and run for 20 s under CTest with the label `fuzz`.
# Skipped when clang++ is not found or FASTTAB_BUILD_FUZZ is OFF.
find_program(FASTTAB_CLANGXX NAMES clang++ clang++-14)
if(FASTTAB_BUILD_FUZZ AND FASTTAB_CLANGXX)
  set(_fuzz_sources
    ${PROJECT_SOURCE_DIR}/tests/fuzz/csv_parser_fuzz.cpp
    ${PROJECT_SOURCE_DIR}/host/csv_loader.cpp
    ${PROJECT_SOURCE_DIR}/host/csv_parser.cpp
    ${PROJECT_SOURCE_DIR}/host/csv_dialect.cpp
    ${PROJECT_SOURCE_DIR}/host/column_spec.cpp
    ${PROJECT_SOURCE_DIR}/host/gzip_reader.cpp)
  set(_fuzz_binary ${CMAKE_CURRENT_BINARY_DIR}/csv_parser_fuzz)
  add_custom_command(
    OUTPUT ${_fuzz_binary}
    COMMAND ${FASTTAB_CLANGXX} -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=undefined -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}
            ${ISAL_INCLUDE_DIRS} ${_fuzz_sources} -o ${_fuzz_binary} ${ISAL_LINK_LIBRARIES} -lpthread
    DEPENDS ${_fuzz_sources}
            ${PROJECT_SOURCE_DIR}/host/csv_loader.hpp ${PROJECT_SOURCE_DIR}/host/csv_parser.hpp
            ${PROJECT_SOURCE_DIR}/host/csv_dialect.hpp ${PROJECT_SOURCE_DIR}/host/column_spec.hpp
            ${PROJECT_SOURCE_DIR}/host/gzip_reader.hpp
    COMMENT "Building the libFuzzer target csv_parser_fuzz with clang++"
    VERBATIM)
  add_custom_target(csv_parser_fuzz ALL DEPENDS ${_fuzz_binary})

  # Seed corpus: the first byte picks the options (see the fuzz target), the rest is CSV text.
  set(_seed_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz_seeds)
  file(MAKE_DIRECTORY ${_seed_dir} ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus)
  # Knob characters: 'B' = label 0, features 2-3,1, header absent, detect; 'F' = all, present; 'S' = label 1,
  # detect delimiter; 'r' = NaN zero; '"' = NaN drop.
  string(ASCII 239 187 191 _bom)
  file(WRITE ${_seed_dir}/plain "B1,2,3,4\n0,5.5,-6e3,7\n")
  file(WRITE ${_seed_dir}/header "Flabel,\"a b\",c,d\r\n1,1.00E+00,+3,4\r\n0,nan,,inf")
  file(WRITE ${_seed_dir}/semicolon "S\"x\";\"y\";\"z\";\"w\"\n1;2;3;4\n5;6;7\n")
  file(WRITE ${_seed_dir}/tabs "S${_bom}1\t2\t3\t4\n\n5\t6\t7\t8\t9\n")
  file(WRITE ${_seed_dir}/drop "\"1,NaN,3,4\n0,2,abc,4\n1,2,3,4\n")
  file(WRITE ${_seed_dir}/zero "r1, 2 ,\" 3 \",4\r\n0,-inf,1e40,4\r")

  add_test(NAME csv_parser_fuzz
    COMMAND ${_fuzz_binary} -max_total_time=20 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
            ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus ${_seed_dir})
  set_tests_properties(csv_parser_fuzz PROPERTIES LABELS fuzz TIMEOUT 120)
endif()
