# libFuzzer targets (tests/fuzz/*_fuzz.cpp), built with clang++ outside the main toolchain
# (-fsanitize=fuzzer,address needs clang) and run briefly under CTest with the label `fuzz`:
#   csv_parser_fuzz   the CSV loader (15 s)           npy_fuzz          the .npy reader (10 s)
#   gzip_fuzz         GzipReader + load_csv (10 s)    table_cache_fuzz  the cache reader (10 s)
#   checkpoint_fuzz   the checkpoint reader (10 s)
# 55 s in all. Seeds: tests/fuzz/corpus/<target>/ (committed), plus the CSV seeds written below; what a run
# finds goes to build/tests/fuzz_corpus/<target>/. Skipped when clang++ is not found or FASTTAB_BUILD_FUZZ is OFF.
find_program(FASTTAB_CLANGXX NAMES clang++ clang++-14)
if(FASTTAB_BUILD_FUZZ AND FASTTAB_CLANGXX)
  # fasttab_add_fuzz(name seconds SOURCES host/x.cpp... [SEEDS dir]): builds tests/fuzz/<name>.cpp with the
  # host sources it needs and registers `<name>` in CTest, run for `seconds` over its committed corpus.
  function(fasttab_add_fuzz name seconds)
    cmake_parse_arguments(ARG "" "SEEDS" "SOURCES" ${ARGN})
    set(_sources ${PROJECT_SOURCE_DIR}/tests/fuzz/${name}.cpp)
    foreach(s ${ARG_SOURCES})
      list(APPEND _sources ${PROJECT_SOURCE_DIR}/${s})
    endforeach()
    file(GLOB_RECURSE _headers ${PROJECT_SOURCE_DIR}/host/*.hpp ${PROJECT_SOURCE_DIR}/include/fasttab/*.hpp)
    set(_binary ${CMAKE_CURRENT_BINARY_DIR}/${name})
    add_custom_command(
      OUTPUT ${_binary}
      COMMAND ${FASTTAB_CLANGXX} -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined
              -fno-sanitize-recover=undefined -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}
              ${ISAL_INCLUDE_DIRS} ${_sources} -o ${_binary} ${ISAL_LINK_LIBRARIES} -lpthread
      DEPENDS ${_sources} ${_headers}
      COMMENT "Building the libFuzzer target ${name} with clang++"
      VERBATIM)
    add_custom_target(${name} ALL DEPENDS ${_binary})
    set(_corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus/${name})
    file(MAKE_DIRECTORY ${_corpus})
    set(_seeds ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
    if(NOT EXISTS ${_seeds})
      set(_seeds)
    endif()
    add_test(NAME ${name}
      COMMAND ${_binary} -max_total_time=${seconds} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              ${_corpus} ${_seeds} ${ARG_SEEDS})
    set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
  endfunction()

  # CSV seeds: the first byte picks the options (see csv_parser_fuzz.cpp), the rest is CSV text.
  # Knob characters: 'B' = label 0, features 2-3,1, header absent, detect; 'F' = all, present; 'S' = label 1,
  # detect delimiter; 'r' = NaN zero; '"' = NaN drop.
  set(_seed_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz_seeds)
  file(MAKE_DIRECTORY ${_seed_dir})
  string(ASCII 239 187 191 _bom)
  file(WRITE ${_seed_dir}/plain "B1,2,3,4\n0,5.5,-6e3,7\n")
  file(WRITE ${_seed_dir}/header "Flabel,\"a b\",c,d\r\n1,1.00E+00,+3,4\r\n0,nan,,inf")
  file(WRITE ${_seed_dir}/semicolon "S\"x\";\"y\";\"z\";\"w\"\n1;2;3;4\n5;6;7\n")
  file(WRITE ${_seed_dir}/tabs "S${_bom}1\t2\t3\t4\n\n5\t6\t7\t8\t9\n")
  file(WRITE ${_seed_dir}/drop "\"1,NaN,3,4\n0,2,abc,4\n1,2,3,4\n")
  file(WRITE ${_seed_dir}/zero "r1, 2 ,\" 3 \",4\r\n0,-inf,1e40,4\r")
  file(WRITE ${_seed_dir}/cr_only "Fy,a,b,c\r1,2,3,4\r0,NA,+-1,3.5e38\r")

  set(_csv_sources host/io/csv_loader.cpp host/io/text_sources.cpp host/io/csv_parser.cpp host/io/csv_dialect.cpp
      host/io/column_spec.cpp host/io/gzip_reader.cpp)
  fasttab_add_fuzz(csv_parser_fuzz 15 SOURCES ${_csv_sources} SEEDS ${_seed_dir})
  fasttab_add_fuzz(gzip_fuzz 10 SOURCES ${_csv_sources})
  fasttab_add_fuzz(npy_fuzz 10 SOURCES host/io/npy_format.cpp host/io/column_spec.cpp host/io/csv_parser.cpp)
  fasttab_add_fuzz(table_cache_fuzz 10 SOURCES host/io/table_cache.cpp host/io/temp_files.cpp)
  fasttab_add_fuzz(checkpoint_fuzz 10 SOURCES host/checkpoint/checkpoint_file.cpp host/io/crc32c.cpp host/io/temp_files.cpp)
endif()
