# obi — the two commands of the README, and the rest:
#   make demo    install what is missing, build, run the demo on the bundled sample
#   make check   install what is missing, build (Release and ASan+UBSan), run every test
#   make bench   benchmarks (JSON), with callgrind instruction counts
#   make fuzz    the LOBSTER parser fuzzer for FUZZ_TIME seconds (default 300)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
FUZZ_TIME ?= 300

.PHONY: all deps build build-asan build-fuzz demo check bench fuzz format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j $(JOBS) >/dev/null

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOBI_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS) >/dev/null

build-fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOBI_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_lobster fuzz_formats >/dev/null

demo: build
	@./build/obi demo

check: build build-asan build-fuzz
	@scripts/install-deps.sh --test
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/check.sh

bench: build
	@scripts/install-deps.sh --bench
	@scripts/bench.sh

fuzz: build-fuzz
	@mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_lobster -max_total_time=$(FUZZ_TIME) build-fuzz/corpus test/fuzz/corpus
	@mkdir -p build-fuzz/corpus_formats
	build-fuzz/fuzz_formats -max_total_time=$(FUZZ_TIME) build-fuzz/corpus_formats test/fuzz/corpus_formats

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
