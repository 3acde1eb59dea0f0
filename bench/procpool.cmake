# procpool.cmake: bench_procpool — hone's pool of worker processes (bench/procpool.sh adds
# Python's ProcessPoolExecutor, measured in the same run).
add_executable(bench_procpool ${CMAKE_CURRENT_SOURCE_DIR}/procpool_bench.c)
target_link_libraries(bench_procpool PRIVATE hone hone_flags)
target_compile_options(bench_procpool PRIVATE -O2)
set_target_properties(bench_procpool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
