# pool.cmake: bench_pool — hone's thread pool against GLib's GThreadPool and OpenMP (bench/pool.sh
# adds Python's ThreadPoolExecutor, measured in the same run).
pkg_check_modules(HONE_GLIB IMPORTED_TARGET glib-2.0)
find_package(OpenMP COMPONENTS C)
if(HONE_GLIB_FOUND AND OpenMP_C_FOUND)
  add_executable(bench_pool ${CMAKE_CURRENT_SOURCE_DIR}/pool_bench.c)
  target_link_libraries(bench_pool PRIVATE hone PkgConfig::HONE_GLIB OpenMP::OpenMP_C)
  target_compile_options(bench_pool PRIVATE -O2)
  set_target_properties(bench_pool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
else()
  message(STATUS "bench_pool: glib-2.0 or OpenMP missing, not built (scripts/install-deps --bench)")
endif()
