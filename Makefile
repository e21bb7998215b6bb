# Pinpoint's entry points. `make demo` runs the main job, `make test` the whole suite; both first
# install the system libraries they need (see Scripts/install-dependencies.sh).
SWIFT ?= swift
# A plain release build, as a package that depends on Pinpoint gets it: the kernels choose this
# CPU's instruction set at run time (Docs/Architecture.md), so no -target-cpu flag is needed.
RELEASE := -c release

.PHONY: demo test test-distributed build-distributed test-serve serve bench fuzz deps deps-mpi build clean

demo: deps
	$(SWIFT) build $(RELEASE) --product pinpoint
	$(SWIFT) run $(RELEASE) --skip-build pinpoint demo

# The suite runs once per kernel set this CPU supports (PINPOINT_CPU forces each narrower one),
# once with OpenBLAS in place of Pinpoint's own SGEMM where the CPU has AVX-512, then with the
# default choice; the downstream examples run first so that last run's summary
# closes the output.
# One extra run of the suite with the environment $(1), its log in .build/test-$(2).log: only
# its count is printed, or the whole log when it fails.
define extra_suite
echo "== the suite with $(1)"; \
$(1) $(SWIFT) test --skip-build --disable-swift-testing > .build/test-$(2).log 2>&1 || { cat .build/test-$(2).log; exit 1; }; \
grep -E '^\s*Executed [0-9]+ tests' .build/test-$(2).log | tail -n 1
endef

test: deps
	$(SWIFT) build --build-tests
	cd Examples/Downstream && $(SWIFT) build && $(SWIFT) run --skip-build CustomLayer && $(SWIFT) run --skip-build Localize
	@sets="$$(.build/debug/pinpoint cpu --supported)"; best="$${sets##* }"; \
	for set in $$sets; do \
		[ "$$set" = "$$best" ] && continue; \
		$(call extra_suite,PINPOINT_CPU=$$set,$$set); \
	done; \
	if [ "$$best" = avx512 ]; then $(call extra_suite,PINPOINT_GEMM=openblas,gemm); fi; \
	echo "== the suite with the default kernel set ($$best)"
	$(SWIFT) test --skip-build --disable-swift-testing
	@$(MAKE) --no-print-directory test-serve
	@if pkg-config --exists ompi-c 2>/dev/null && command -v mpirun >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory test-distributed; \
	else \
		echo "== Open MPI is not installed: Distributed/'s tests did not run (make deps-mpi installs it)"; \
	fi

# Data-parallel training over Open MPI (Distributed/, a package of its own; Docs/Distributed.md).
# Its tests run `mpirun -np 2` on the release build, one thread per rank, and Pinpoint's plain
# `pinpoint` under mpirun (built here by name: a dependency's executable is not built otherwise).
test-distributed: deps-mpi
	@echo "== Distributed/: data-parallel training under mpirun"
	cd Distributed && $(SWIFT) build -c release --build-tests && $(SWIFT) build -c release --product pinpoint \
		&& $(SWIFT) test -c release --skip-build --disable-swift-testing

# The prediction service (Serve/, a package of its own on Hummingbird; Docs/Serve.md): its
# tests run real HTTP on loopback ports.
test-serve: deps
	@echo "== Serve/: the prediction service over HTTP"
	cd Serve && $(SWIFT) build --build-tests && $(SWIFT) test --skip-build --disable-swift-testing

# Starts the service in the foreground: make serve ARGS="--model cnn.safetensors --port 8080".
serve: deps
	cd Serve && $(SWIFT) build -c release --product pinpoint-serve
	Serve/.build/release/pinpoint-serve $(ARGS)

# The distributed command line (Distributed/.build/release/pinpoint-mpi): the same commands, run alone
# or under `mpirun -np N`.
build-distributed: deps-mpi
	cd Distributed && $(SWIFT) build -c release --product pinpoint-mpi

# Kernel throughput (GFLOP/s); see Docs/Performance.md. Pass ARGS="--json" for JSON lines.
bench: deps
	$(SWIFT) build $(RELEASE) --product pinpoint-benchmarks
	$(SWIFT) run $(RELEASE) --skip-build pinpoint-benchmarks $(ARGS)

build: deps
	$(SWIFT) build $(RELEASE)

# Coverage-guided fuzzing of every parser of untrusted input (Fuzz/; Docs/Testing.md), each
# target for FUZZ_SECONDS (default 60). FUZZ_TARGETS picks some.
fuzz: deps
	sh Scripts/fuzz.sh

deps:
	@sh Scripts/install-dependencies.sh

deps-mpi:
	@sh Scripts/install-dependencies.sh mpi

clean:
	rm -rf .build
