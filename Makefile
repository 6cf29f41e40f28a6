# swift-nn: the two commands of the README are `make demo` and `make test`.
SWIFT   ?= swift
CONFIG  ?= release
# Debian packages the project needs (zlib1g-dev for gzip-compressed IDX files).
DEBS    := libopenblas-dev libomp-dev dataset-fashion-mnist zlib1g-dev

.PHONY: deps build test bench demo clean

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

## test: the whole test suite, in release mode (the naive references are too slow in debug).
test: deps
	$(SWIFT) test -c $(CONFIG) --disable-swift-testing

## bench: kernel benchmarks against the naive reference (QUICK=1 for a short run).
bench: deps
	$(SWIFT) run -c release KernelBench $(if $(QUICK),--quick,)

## demo: train W2 (the CNN) on Fashion-MNIST for a few epochs, print its test accuracy,
## and write the checkpoint, the CSV log and the training-curve SVG under checkpoints/.
## About 30 s an epoch on 2 quiet cores, plus the first build.
DEMO_EPOCHS ?= 3
demo: deps
	$(SWIFT) run -c release nn train --model cnn --epochs $(DEMO_EPOCHS) \
	  --checkpoint checkpoints/cnn.safetensors --plot checkpoints/cnn-training.svg --log checkpoints/cnn-training.csv

clean:
	rm -rf .build
