# Compiler flags and the helpers every CMakeLists.txt in the tree uses.

set(SEALPOST_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wvla
  -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
  -Wcast-qual -Wnull-dereference -Wimplicit-fallthrough)
if(SEALPOST_WERROR)
  list(APPEND SEALPOST_WARNINGS -Werror)
endif()

# Hardening for everything we build.
add_compile_options(-fstack-protector-strong -fno-strict-aliasing)
add_compile_definitions(_POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT SEALPOST_SANITIZE)
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()

if(SEALPOST_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# sealpost_target_warnings(TARGET): our own code gets the full warning set;
# generated protobuf-c code does not.
function(sealpost_target_warnings tgt)
  target_compile_options(${tgt} PRIVATE ${SEALPOST_WARNINGS})
endfunction()

# sealpost_add_check_test(NAME SOURCES a.c b.c LIBS x y LABELS unit [TIMEOUT s])
# One Check executable per module, one ctest entry each.
function(sealpost_add_check_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  sealpost_target_warnings(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} sealpost_testutil PkgConfig::CHECK
                        Threads::Threads)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  # CK_FORK=yes: a crash in one test case is reported, not fatal to the suite.
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "CK_FORK=yes;SEALPOST_BUILD_DIR=${CMAKE_BINARY_DIR};SEALPOST_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
