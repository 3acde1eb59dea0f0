# measure.cmake: the measure layer's benchmarks — bench_measure (hone's Timer) and, when Google
# Benchmark is installed (libbenchmark-dev), bench_measure_gbench timing the same bodies.
add_executable(bench_measure ${CMAKE_CURRENT_SOURCE_DIR}/measure.c)
target_link_libraries(bench_measure PRIVATE hone hone_flags)
target_compile_options(bench_measure PRIVATE -O2)
set_target_properties(bench_measure PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)

find_package(benchmark CONFIG QUIET)
if(benchmark_FOUND)
  # C++ only here: Google Benchmark is a C++ library, and nothing else of hone needs a C++ compiler.
  enable_language(CXX)
  add_executable(bench_measure_gbench ${CMAKE_CURRENT_SOURCE_DIR}/measure_gbench.cpp)
  target_link_libraries(bench_measure_gbench PRIVATE benchmark::benchmark)
  target_compile_options(bench_measure_gbench PRIVATE -O2)
  set_target_properties(bench_measure_gbench PROPERTIES CXX_STANDARD 17
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
else()
  message(STATUS "bench_measure_gbench: Google Benchmark missing, not built (scripts/install-deps --bench)")
endif()
