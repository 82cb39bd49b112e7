# MyWP's two commands. Both do their own set-up on a fresh Debian 12 machine (as root).
#   make run    the panel at http://localhost:3000, with the single-host data plane
#   make test   every test, with the services they need

export CARGO_TARGET_DIR ?= $(HOME)/.cache/mywp-target
MYWP := $(CARGO_TARGET_DIR)/debug/mywp

.PHONY: run test bundle release bench staff

run:
	scripts/setup.sh run
	scripts/build-bundle.sh
	scripts/dataplane.sh start
	cargo build --locked -p mywp
	$(MYWP) serve

test:
	scripts/test.sh

bundle:
	scripts/build-bundle.sh

release:
	cargo build --locked --release -p mywp --features aws

bench:
	scripts/bench.sh

# make staff EMAIL=you@example.com: make an account staff (created, with a password shown once, if new)
staff:
	cargo build --locked -p mywp
	$(MYWP) staff add $(EMAIL)
