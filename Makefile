# The front door: wraps CMake and CTest. `make demo` and `make check` install what is missing first.
#   make            build (build/release)
#   make demo       run hone on the bundled examples
#   make check      -Werror build + all tests; unit + CLI tests under ASan+UBSan; concurrency tests under TSan
#   make bench      benchmarks side by side with the tools hone compares against
#   make install    PREFIX=/usr/local by default
#   make format     clang-format every C file
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD := build
CMAKE_FLAGS ?=
CTEST := ctest --output-on-failure -j$(JOBS)

.PHONY: all deps demo check check-release check-asan check-tsan bench install format clean

all: $(BUILD)/release/Makefile
	cmake --build $(BUILD)/release -j$(JOBS)

deps:
	@scripts/install-deps

$(BUILD)/release/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD)/release -DHONE_WERROR=ON $(CMAKE_FLAGS)

demo: deps all
	@scripts/demo $(BUILD)/release

check: deps check-release check-asan check-tsan
	@echo "make check: all test suites passed"

check-release:
	cmake -S . -B $(BUILD)/release -DHONE_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)/release -j$(JOBS)
	cd $(BUILD)/release && $(CTEST)

check-asan:
	cmake -S . -B $(BUILD)/asan -DHONE_WERROR=ON -DHONE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(BUILD)/asan -j$(JOBS)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CTEST) -L 'unit|cli' -LE 'nosan'

check-tsan:
	cmake -S . -B $(BUILD)/tsan -DHONE_WERROR=ON -DHONE_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(BUILD)/tsan -j$(JOBS)
	cd $(BUILD)/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(CTEST) -L concurrency

bench:
	@scripts/install-deps --bench
	cmake -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release -DHONE_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)/bench -j$(JOBS)
	@scripts/bench $(BUILD)/bench

install: all
	cmake --install $(BUILD)/release --prefix $(PREFIX)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
