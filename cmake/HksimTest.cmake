# hk_add_unit_test(NAME SOURCES ... [LIBS ...] [LABELS ...])
# One cmocka executable per source file under test, registered with ctest
# under the label "unit" (plus LABELS; "threads" marks the ones TSan runs).
function(hk_add_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${T_LABELS}"
    ENVIRONMENT "HKSIM_TEST_DATA=${CMAKE_SOURCE_DIR}/tests/data;HKSIM_BUILD=${CMAKE_BINARY_DIR}")
endfunction()

# hk_add_integration_test(NAME COMMAND ... [LABELS ...])
# A test that runs real programs (hksim, the recorder, sqlite3, python3).
function(hk_add_integration_test name)
  cmake_parse_arguments(T "" "" "COMMAND;LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND ${T_COMMAND})
  set_tests_properties(${name} PROPERTIES LABELS "integration;${T_LABELS}"
    ENVIRONMENT "HKSIM_TEST_DATA=${CMAKE_SOURCE_DIR}/tests/data;HKSIM_BUILD=${CMAKE_BINARY_DIR};HKSIM_SRC=${CMAKE_SOURCE_DIR}")
endfunction()
