# The README's two commands: `make demo` and `make test`. Each sets itself up on a fresh Debian
# machine (packages, data), builds with CMake and runs.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
MNIST = $(BUILD)/mnist

FUZZ_SECONDS ?= 1200
FUZZ_BUILD ?= build-fuzz

.PHONY: all build deps data demo test test-release test-sanitize bench fuzz fuzz-ci loadtest clean

all: build

deps:
	@scripts/setup-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

data: build
	@scripts/link-data.sh $(MNIST)

demo: build data
	@scripts/demo.sh $(MNIST)

test: build data
	@scripts/setup-deps.sh test
	@$(MAKE) --no-print-directory test-release test-sanitize

test-release:
	@cd $(BUILD) && ctest --output-on-failure -j 2

test-sanitize:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMN_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 MN_TEST_QUICK=1 ctest --output-on-failure -j 2

bench: build data
	@scripts/setup-deps.sh bench
	@bench/run.sh $(MNIST)

loadtest: build data
	@scripts/setup-deps.sh loadtest
	@bench/loadtest.sh $(MNIST)

# libFuzzer targets (clang-14): each replays its committed corpus, then fuzzes FUZZ_SECONDS.
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh

fuzz-ci: deps
	@FUZZ_SECONDS=30 FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
