# queue.cmake: bench_queue — hone's shared-memory queue between two processes against a raw pipe
# (bench/queue.sh adds Python's multiprocessing.Queue, measured in the same run).
add_executable(bench_queue ${CMAKE_CURRENT_SOURCE_DIR}/queue_bench.c)
target_link_libraries(bench_queue PRIVATE hone)
target_compile_options(bench_queue PRIVATE -O2)
set_target_properties(bench_queue PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
