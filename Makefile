# The front door: wraps CMake and CTest. `make demo` and `make check` install what is missing first.
#   make            build (build/release)
#   make demo       run hone on the bundled examples
#   make check      -Werror build + all tests; unit + CLI tests under ASan+UBSan; concurrency tests under TSan
#   make bench      benchmarks side by side with the tools hone compares against
#   make install    PREFIX=/usr/local by default (installs what is missing first)
#   make format     clang-format every C file
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD := build
CMAKE_FLAGS ?=
MAKEFLAGS += --no-print-directory

.PHONY: all deps demo check bench install format clean

all: $(BUILD)/release/Makefile
	cmake --build $(BUILD)/release -j$(JOBS)

deps:
	@scripts/install-deps

$(BUILD)/release/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD)/release -DHONE_WERROR=ON $(CMAKE_FLAGS)

demo: deps
	@cmake -S . -B $(BUILD)/release -DHONE_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@echo "building hone (build/release)..."
	@cmake --build $(BUILD)/release -j$(JOBS) >$(BUILD)/demo-build.log 2>&1 || { cat $(BUILD)/demo-build.log; exit 1; }
	@scripts/demo $(BUILD)/release

check: deps
	@JOBS=$(JOBS) CMAKE_FLAGS="$(CMAKE_FLAGS)" scripts/check

bench:
	@scripts/install-deps --bench
	cmake -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release -DHONE_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)/bench -j$(JOBS)
	@scripts/bench $(BUILD)/bench

# deps first, as demo and check: on a fresh clone CMake would otherwise stop at the first missing
# library (libcjson) with pkg-config's message and no word of scripts/install-deps.
install: deps
	@$(MAKE) all
	cmake --install $(BUILD)/release --prefix $(PREFIX)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
