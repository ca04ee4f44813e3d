# Build helpers: one static library per module, one GoogleTest binary per module,
# one benchmark binary per subject. Which modules a module builds on is cmake/layers.cmake's
# table, and nowhere else; DEPS name only the third-party libraries it uses.
include(${CMAKE_CURRENT_LIST_DIR}/layers.cmake)

# vigil_add_module(NAME core SOURCES a.cc b.cc DEPS fmt::fmt)
# Links PUBLIC: a module's headers show the types of the modules it builds on, so their
# users need those modules' usage requirements too. The layering test, not the link
# visibility, is what keeps a module from including what the table does not give it.
function(vigil_add_module)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_NAME IN_LIST VIGIL_MODULES)
    message(FATAL_ERROR "module ${ARG_NAME} is not in cmake/layers.cmake")
  endif()
  add_library(vigil_${ARG_NAME} STATIC ${ARG_SOURCES})
  set(modules "")
  foreach(used ${VIGIL_USES_${ARG_NAME}})
    list(APPEND modules vigil_${used})
  endforeach()
  target_link_libraries(vigil_${ARG_NAME} PUBLIC ${modules} ${ARG_DEPS})
endfunction()

# vigil_add_test(NAME core SOURCES x_test.cc DEPS vigil_core LABELS unit)
# The binary is <name>_test; ctest discovers each TEST inside it.
function(vigil_add_test)
  if(NOT VIGIL_BUILD_TESTS)
    return()
  endif()
  # SERVICES: the real services the tests need (rabbitmq), started once per ctest run by
  # scripts/test-services as a fixture; a test finds them in $VIGIL_TEST_SERVICES/<name>/.
  # Tests of one service run one at a time: they share its topology (vigil.store …).
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS;LABELS;SERVICES" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${ARG_NAME}_test ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME}_test PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${ARG_NAME}_test PRIVATE VIGIL_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  set(properties LABELS "${ARG_LABELS}")
  list(LENGTH ARG_SERVICES service_count)
  if(service_count GREATER 0)
    list(APPEND properties ENVIRONMENT "VIGIL_TEST_SERVICES=${CMAKE_BINARY_DIR}/services")
  endif()
  if(service_count EQUAL 1)
    list(APPEND properties FIXTURES_REQUIRED ${ARG_SERVICES} RESOURCE_LOCK ${ARG_SERVICES})
  endif()
  gtest_discover_tests(${ARG_NAME}_test
    PROPERTIES ${properties}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    DISCOVERY_TIMEOUT 30)
  if(service_count GREATER 1)
    # gtest_discover_tests cannot pass a list-valued property (it would read the second
    # service as a property name): set them in a file ctest reads after the discovered list.
    set(file ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_test_services.cmake)
    file(WRITE ${file} "if(DEFINED ${ARG_NAME}_test_TESTS)
  set_tests_properties(\${${ARG_NAME}_test_TESTS} PROPERTIES
    FIXTURES_REQUIRED \"${ARG_SERVICES}\" RESOURCE_LOCK \"${ARG_SERVICES}\")
endif()
")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${file})
  endif()
endfunction()

# vigil_add_bench(NAME codec SOURCES codec_bench.cc DEPS vigil_model)
function(vigil_add_bench)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME}_bench ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME}_bench PRIVATE ${ARG_DEPS} benchmark::benchmark)
endfunction()
