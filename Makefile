# swift-nn: the two commands of the README are `make demo` and `make test`.
SWIFT   ?= swift
CONFIG  ?= release
# Debian packages the project needs (zlib1g-dev for gzip-compressed IDX and CSV files;
# libpng-dev for `nn predict` on PNG files;
# python3-sklearn for the real CSV tables the tests and examples read; libc6-dev-arm64-cross
# for check-aarch64; Open MPI for NNDistributed and its tests).
DEBS    := pkg-config libopenblas-dev libomp-dev dataset-fashion-mnist zlib1g-dev libpng-dev python3-sklearn libc6-dev-arm64-cross \
           libopenmpi-dev openmpi-bin

.PHONY: docs doc-comments api-breakage deps build test check-aarch64 test-trixie bench bench-distributed bench-pytorch demo consumer-check clean sanitize sanitize-address sanitize-undefined tsan fuzz

## deps: install the missing Debian packages (apt-get update first); needs root.
deps:
	@missing=""; \
	for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "error: missing Debian packages:$$missing. Run 'sudo make deps' (or apt-get install them) first." >&2; \
	    exit 1; \
	  fi; \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

## build: compile everything in release mode.
build: deps
	$(SWIFT) build -c $(CONFIG)

## test: the aarch64 compile check, the consumer check, the doc-comment and API-breakage
## checks, then the whole test suite in release mode (the naive references are too slow
## in debug).
test: deps check-aarch64
	./scripts/consumer-check.sh
	$(MAKE) doc-comments
	$(MAKE) api-breakage
	$(SWIFT) test -c $(CONFIG) --disable-swift-testing

## docs: the DocC catalogue of NN (Sources/NN/NN.docc and every doc comment) as a static
## site in docs-site/ (open docs-site/documentation/nn/index.html through a web server, or
## host the directory). Any DocC warning (a broken link, an unknown symbol) fails the build.
docs: deps
	$(SWIFT) package --allow-writing-to-directory docs-site generate-documentation --target NN \
	  --warnings-as-errors --transform-for-static-hosting --output-path docs-site

## api-breakage: fails when the public API of NN breaks that of the last release
## (api/release; the release's API dump is committed in api/baseline, so only the current
## code is built). A deliberate break goes into api/breakage-allowlist.txt and CHANGELOG.md.
api-breakage: deps
	SWIFT=$(SWIFT) ./scripts/check-api-breakage.sh

## doc-comments: fails on any public declaration of NN without a doc comment (from the
## built module's symbol graph; about 10 s after a build), after testing that the check
## refuses a fixture with undocumented declarations.
doc-comments: deps
	SWIFT=$(SWIFT) ./scripts/test-doc-comments.sh
	SWIFT=$(SWIFT) ./scripts/check-doc-comments.sh NN

## check-aarch64: compile every C file for aarch64 (Graviton, Ampere) with the clang beside
## Swift, against Debian's arm64 cross headers and the package's own C flags (no linking).
## OpenBLAS's headers come from the host: cblas.h is plain C declarations and Debian ships
## no arm64 cross copy (openblas_config.h's x86 build macros are not used by the kernels).
CLANG         ?= $(dir $(shell readlink -f $$(command -v $(SWIFT))))clang
HOST_CBLAS    := $(firstword $(wildcard /usr/include/*-linux-gnu/cblas.h /usr/include/cblas.h))
AARCH64_FLAGS := --target=aarch64-linux-gnu -fopenmp -O3 -ffp-contract=fast -fno-math-errno \
	-nostdlibinc -isystem $$($(CLANG) -print-resource-dir)/include -isystem /usr/aarch64-linux-gnu/include \
	$(if $(HOST_CBLAS),-isystem $(dir $(realpath $(HOST_CBLAS)))) \
	-I Sources/CKernels/include -I Sources/CKernels/openmp -I Benchmarks/BenchShim/include
AARCH64_C     := $(wildcard Sources/CKernels/*.c Benchmarks/BenchShim/*.c)
check-aarch64: deps
	@test -x "$(CLANG)" || { echo "error: no clang beside $(SWIFT) (set CLANG=...)" >&2; exit 1; }
	@test -f /usr/aarch64-linux-gnu/include/stdlib.h || { echo "error: no arm64 cross headers: install libc6-dev-arm64-cross" >&2; exit 1; }
	@for f in $(AARCH64_C); do \
	  $(CLANG) $(AARCH64_FLAGS) -c $$f -o /dev/null || { echo "error: $$f does not compile for aarch64" >&2; exit 1; }; \
	done; echo "check-aarch64: $(words $(AARCH64_C)) C files compile for aarch64-linux-gnu"

## test-trixie: the proof on Debian 13: debootstrap a trixie root into .build-trixie/root,
## bind-mount the Swift toolchain and the local package copies, and run `make test` inside
## on the committed tree (scripts/trixie-test.sh; needs root; not part of `make test`).
## Slow the first time (the root, then a build from scratch).
test-trixie:
	./scripts/trixie-test.sh

## consumer-check: a throwaway package adds swift-nn by file:// URL and version, imports NN.
consumer-check: deps
	./scripts/consumer-check.sh

## bench: kernel benchmarks against the naive reference (QUICK=1 for a short run).
# Open MPI as root, two ranks on two cores; shared memory (vader) against TCP over loopback.
MPIRUN := mpirun --allow-run-as-root --oversubscribe --mca mpi_yield_when_idle 1
bench: deps
	$(SWIFT) run -c release KernelBench $(if $(QUICK),--quick,)
	$(MAKE) bench-distributed

## bench-distributed: the MPI rows of `make bench`: all-reduce over shared memory and TCP,
## W2 with 1 process x 2 threads against 2 ranks x 1 thread (both bindings), alternated; each
## 2-rank row cycles blocking and both overlapped all-reduces and prints the share hidden.
bench-distributed: deps
	$(SWIFT) build -c release --product DistributedBench
	$(MPIRUN) --mca btl self,vader -np 2 .build/release/DistributedBench allreduce shm $(if $(QUICK),--quick,)
	$(MPIRUN) --mca btl self,tcp --mca btl_tcp_if_include lo -np 2 .build/release/DistributedBench allreduce tcp $(if $(QUICK),--quick,)
	for i in 1 2 3; do \
	  OMP_NUM_THREADS=2 .build/release/DistributedBench train 2 $(if $(QUICK),--quick,) && \
	  OMP_NUM_THREADS=1 $(MPIRUN) --bind-to none -np 2 .build/release/DistributedBench train 1 $(if $(QUICK),--quick,) && \
	  OMP_NUM_THREADS=1 $(MPIRUN) --bind-to core -np 2 .build/release/DistributedBench train 1 $(if $(QUICK),--quick,) || exit 1; \
	done

## bench-pytorch: W1, W2 and W3 in `nn train` and in PyTorch's CPU build (channels-last and
## default layout), alternated in separate processes (3 pairs at 1 and 2 threads), and the
## ratios; installs torch==2.13.0+cpu into .venv-bench/ if missing. Not part of `make test`.
## QUICK=1 for one short pair; BENCH_PYTORCH_ARGS for the script's options (--help lists them).
bench-pytorch: deps
	./scripts/bench-pytorch.sh $(if $(QUICK),--quick,) $(BENCH_PYTORCH_ARGS)

## demo: train W2 (the CNN) on Fashion-MNIST for a few epochs (10% of the training images
## held out for validation, so the plot has both curves), print its test accuracy, and write
## the checkpoint, the CSV log and the training-curve SVG under checkpoints/.
## About 20-30 s an epoch on 2 quiet cores, plus the first build.
DEMO_EPOCHS ?= 3
demo: deps
	$(SWIFT) run -c release nn train --model cnn --epochs $(DEMO_EPOCHS) --val-split 0.1 \
	  --checkpoint checkpoints/cnn.safetensors --plot checkpoints/cnn-training.svg --log checkpoints/cnn-training.csv

## sanitize: the whole test suite under AddressSanitizer, then UndefinedBehaviorSanitizer
## (release mode, each in its own scratch path; about 3 minutes each from clean on 2 cores).
sanitize: sanitize-address sanitize-undefined

# LeakSanitizer is off: XCTest on Linux keeps every test case alive through weak-reference
# side tables until exit, so LSan reports hundreds of "indirect leaks" of what the tests
# captured (teardown blocks, paths, models). With leaks on, the only direct leaks were in
# XCTest, Foundation's Process and Foundation's Data(contentsOf:) of an empty file (a
# 4 KiB probe buffer); none in NN or CKernels, and none in libomp's or OpenBLAS's pools.
ASAN_RUN := ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
sanitize-address: deps
	$(ASAN_RUN) $(SWIFT) test -c release --disable-swift-testing --sanitize=address --scratch-path .build-asan

# swiftc has no -sanitize=undefined on Linux (Swift's own arithmetic and bounds checks
# trap anyway), so UBSan instruments the C kernels through -Xcc and its runtime is linked
# from the toolchain. -fno-sanitize-recover makes any report abort the run.
UBSAN_RT   := $(firstword $(wildcard $(dir $(shell readlink -f $$(command -v $(SWIFT))))../lib/clang/*/lib/linux))
UBSAN_FLAGS := -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined \
	-Xlinker -L$(UBSAN_RT) -Xlinker -lclang_rt.ubsan_standalone-x86_64 -Xlinker -rpath -Xlinker $(UBSAN_RT)
sanitize-undefined: deps
	@test -n "$(UBSAN_RT)" || { echo "error: no clang runtime directory beside $(SWIFT)" >&2; exit 1; }
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(SWIFT) test -c release --disable-swift-testing --scratch-path .build-ubsan $(UBSAN_FLAGS)

## tsan: the concurrency tests (a model shared by 8 tasks, two trainings at once, the
## batcher, the thread settings) under ThreadSanitizer, with the kernels multi-threaded:
## Debian's libomp is not built for TSan, so LLVM's Archer (libarcher.so, from
## libomp-N-dev of whichever LLVM libomp-dev pulls in) tells TSan about libomp's barriers
## and tasks. Any report fails the run.
## Its own scratch path; several minutes from clean on 2 cores. The kernels are built
## without run-time dispatch (CK_NO_MULTIVERSION, ck_target.h): TSan instruments the
## target_clones resolvers, which the dynamic loader runs before TSan is initialised, and
## the test binary crashed at load (SIGSEGV in __tsan_func_entry from a [resolver]).
ARCHER := $(firstword $(wildcard /usr/lib/llvm-*/lib/libarcher.so))
TSAN_FLAGS := --sanitize=thread --scratch-path .build-tsan -Xcc -DCK_NO_MULTIVERSION
TSAN_TESTS := ConcurrencyTests|ThreadsTests
TSAN_RUN := TSAN_OPTIONS=halt_on_error=1:abort_on_error=0:exitcode=66 OMP_TOOL_LIBRARIES=$(ARCHER) ARCHER_OPTIONS=verbose=1
tsan: deps
	@test -n "$(ARCHER)" || { echo "error: no /usr/lib/llvm-*/lib/libarcher.so (Debian's libomp-N-dev ships it)" >&2; exit 1; }
	$(SWIFT) build -c release --build-tests $(TSAN_FLAGS)
	$(TSAN_RUN) $(SWIFT) test -c release --disable-swift-testing $(TSAN_FLAGS) \
	  --skip-build --filter '$(TSAN_TESTS)'

## fuzz: libFuzzer on the IDX reader, the checkpoint loader and the .npy/.npz reader, FUZZ_SECONDS (default 60)
## each, from the committed seeds in Fuzz/corpus; new inputs go to Fuzz/.build/work, any
## crash to Fuzz/.build/artifacts (then: make it a test in BadInputTests and fix it).
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
# Swift's backtracer would take half a minute per crash; libFuzzer reports it instead.
FUZZ_RUN     := SWIFT_BACKTRACE=enable=no
fuzz: deps
	cd Fuzz && $(SWIFT) build $(FUZZ_BUILD)
	mkdir -p Fuzz/.build/work/idx Fuzz/.build/work/safetensors Fuzz/.build/work/numpy Fuzz/.build/artifacts
	cd Fuzz && $(FUZZ_RUN) .build/release/FuzzIDX -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=.build/artifacts/ .build/work/idx corpus/idx
	cd Fuzz && $(FUZZ_RUN) .build/release/FuzzSafeTensors -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -dict=safetensors.dict -artifact_prefix=.build/artifacts/ .build/work/safetensors corpus/safetensors
	cd Fuzz && $(FUZZ_RUN) .build/release/FuzzNumPy -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=.build/artifacts/ .build/work/numpy corpus/numpy

clean:
	rm -rf .build .build-asan .build-ubsan .build-tsan Fuzz/.build
