#!/usr/bin/env bash
# make_install.sh: `make install` installs what is missing (scripts/install-deps) before CMake
# runs, as `make demo` and `make check` do: on a fresh clone without libcjson-dev, CMake stopped
# with "Package 'libcjson' ... not found" and no word of scripts/install-deps. Checked with
# make -n (nothing is run), in a scratch build directory.
set -euo pipefail
src=$1
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
plan=$(make -C "$src" -n install BUILD="$T/build" PREFIX="$T/prefix")
deps=$(printf '%s\n' "$plan" | grep -n 'scripts/install-deps' | head -1 | cut -d: -f1)
cm=$(printf '%s\n' "$plan" | grep -n 'cmake' | head -1 | cut -d: -f1)
echo "make -n install: install-deps at line ${deps:-none}, first cmake at line ${cm:-none}"
[ -n "$deps" ] && [ -n "$cm" ] && [ "$deps" -lt "$cm" ]
