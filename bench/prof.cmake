# prof.cmake: the profiler benchmark's workload (prof_work.c) built the ways bench/prof.sh runs
# it: plain, instrumented (for the preloaded runtime, HONE_PROF=off and uftrace), instrumented and
# linked to libhone-prof.so, and with -pg for gprof. -O2 comes after the build type's flags.
set(HONE_PROF_WORK_FLAGS -O2 -g -fno-optimize-sibling-calls)
foreach(kind plain inst linked pg)
  add_executable(prof_work_${kind} ${CMAKE_CURRENT_SOURCE_DIR}/prof_work.c)
  target_compile_options(prof_work_${kind} PRIVATE ${HONE_PROF_WORK_FLAGS})
  set_target_properties(prof_work_${kind} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endforeach()
target_compile_options(prof_work_inst PRIVATE -finstrument-functions)
target_compile_options(prof_work_linked PRIVATE -finstrument-functions)
target_link_libraries(prof_work_linked PRIVATE hone-prof)
target_compile_options(prof_work_pg PRIVATE -pg)
target_link_options(prof_work_pg PRIVATE -pg)
