#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds a tiny program against the installed
# copy twice: with pkg-config (hone.pc) and with CMake's find_package(hone). Both must run.
set -euo pipefail
build=$1 src=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cmake --install "$build" --prefix "$T/prefix" >/dev/null
cat > "$T/app.c" <<'C'
#include <hone/hone.h>
#include <stdio.h>
int main(void) {
  printf("hone %s %s\n", hone_version(), hone_strerror(HONE_EINVAL));
  return 0;
}
C
libdir=$(ls -d "$T/prefix"/lib*/pkgconfig | head -1)
export PKG_CONFIG_PATH="$libdir"
cc -std=c17 "$T/app.c" -o "$T/app-pc" $(pkg-config --cflags --libs hone) -Wl,-rpath,"$(dirname "$libdir")"
out=$("$T/app-pc"); echo "pkg-config build: $out"
[[ "$out" == "hone "*" invalid argument" ]]

mkdir -p "$T/cm"
cat > "$T/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(app C)
find_package(hone REQUIRED)
add_executable(app ../app.c)
target_link_libraries(app PRIVATE hone::hone)
CM
cmake -S "$T/cm" -B "$T/cm/build" -DCMAKE_PREFIX_PATH="$T/prefix" >/dev/null
cmake --build "$T/cm/build" >/dev/null
out=$("$T/cm/build/app"); echo "find_package build: $out"
[[ "$out" == "hone "*" invalid argument" ]]
# The report API with names from libhone-symbols (libdw), through both pkg-config and CMake.
cat > "$T/syms.c" <<'C'
#include <hone/report.h>
#include <hone/symbols.h>
#include <stdio.h>
int main(void) {
  hone_symbols *s = hone_symbols_new(NULL, NULL);
  hone_report_options o = {.resolve = hone_symbols_resolve, .resolve_ctx = s};
  hone_report *r = NULL;
  int rc = hone_report_new(&o, &r);
  printf("report %d %zu\n", rc, hone_report_func_count(r));
  hone_report_free(r);
  hone_symbols_free(s);
  return rc;
}
C
cc -std=c17 "$T/syms.c" -o "$T/syms-pc" $(pkg-config --cflags --libs hone-symbols) -Wl,-rpath,"$(dirname "$libdir")"
out=$("$T/syms-pc"); echo "pkg-config hone-symbols build: $out"
[[ "$out" == "report 0 0" ]]
mkdir -p "$T/cms"
cat > "$T/cms/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(syms C)
find_package(hone REQUIRED)
add_executable(syms ../syms.c)
target_link_libraries(syms PRIVATE hone::hone-symbols)
CM
cmake -S "$T/cms" -B "$T/cms/build" -DCMAKE_PREFIX_PATH="$T/prefix" >/dev/null
cmake --build "$T/cms/build" >/dev/null
out=$("$T/cms/build/syms"); echo "find_package hone::hone-symbols build: $out"
[[ "$out" == "report 0 0" ]]
test -x "$T/prefix/bin/hone"
"$T/prefix/bin/hone" --version
echo "install: 5 passed, 0 failed"
