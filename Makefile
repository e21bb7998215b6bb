# Pinpoint's entry points. `make demo` runs the main job, `make test` the whole suite; both first
# install the system libraries they need (see Scripts/install-dependencies.sh).
SWIFT ?= swift
# Release builds let the compiler use this machine's vector units (Scripts/swift-cpu-flags.sh).
RELEASE := -c release $(shell sh Scripts/swift-cpu-flags.sh)

.PHONY: demo test bench deps build clean

demo: deps
	$(SWIFT) build $(RELEASE) --product pinpoint
	$(SWIFT) run $(RELEASE) --skip-build pinpoint demo

# The downstream examples run first so the test runner's summary closes the output.
test: deps
	$(SWIFT) build --build-tests
	cd Examples/Downstream && $(SWIFT) build && $(SWIFT) run --skip-build CustomLayer && $(SWIFT) run --skip-build Localize
	$(SWIFT) test --skip-build --disable-swift-testing

# Kernel throughput (GFLOP/s); see Docs/Performance.md. Pass ARGS="--json" for JSON lines.
bench: deps
	$(SWIFT) build $(RELEASE) --product pinpoint-benchmarks
	$(SWIFT) run $(RELEASE) --skip-build pinpoint-benchmarks $(ARGS)

build: deps
	$(SWIFT) build $(RELEASE)

deps:
	@sh Scripts/install-dependencies.sh

clean:
	rm -rf .build
