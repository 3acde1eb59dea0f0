# bench/mpi.sh's hone columns: hone's MPI backend on the farm's rows (bench/mpi/hone_mpi.c).
if(HONE_HAVE_MPI)
  add_executable(bench_mpi_hone ${CMAKE_CURRENT_SOURCE_DIR}/mpi/hone_mpi.c)
  target_link_libraries(bench_mpi_hone PRIVATE hone-mpi hone hone_flags)
  set_target_properties(bench_mpi_hone PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/mpi)
endif()
# bench/mpi.sh's machine line: the cost of handing work between two processes (bench/handoff.c).
add_executable(bench_handoff ${CMAKE_CURRENT_SOURCE_DIR}/handoff.c)
target_link_libraries(bench_handoff PRIVATE hone hone_flags)
set_target_properties(bench_handoff PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/mpi)
