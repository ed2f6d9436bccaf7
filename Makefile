# The two commands of the README:
#
#   make demo   install what is missing, build the hypervisor and the sample guests, then open the
#               Dom0 shell with the demo domains (on a terminal) or run the scripted demo
#   make test   install what is missing, build everything, run every test (KVM tests boot real guests)
#
# Other targets: deps (install libelf-dev and pkg-config when missing), build, images, bench, clean.

SWIFT ?= swift
HV    := .build/release/hv

.PHONY: demo test deps build images bench clean

# On a terminal: the Dom0 shell with the demo domains; without one (CI, a pipe): the scripted tour.
demo: build
	@if [ -t 0 ] && [ -t 1 ]; then $(HV) shell --demo; else $(HV) demo; fi

test: deps images
	$(SWIFT) build          # hv too: the command-line tests run it
	$(SWIFT) test

build: deps images
	$(SWIFT) build -c release --product hv

images:
	$(MAKE) -C Images

bench: build
	$(HV) bench all

# libelf-dev is the one system package the host needs (the ELF loader links libelf through pkg-config).
deps:
	@if ! pkg-config --exists libelf 2>/dev/null; then \
	    echo "installing libelf-dev and pkg-config (needs root)"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libelf-dev pkg-config; \
	fi
	@pkg-config --exists libelf || { echo "libelf-dev is still missing: install it with apt-get install libelf-dev"; exit 1; }

clean:
	$(MAKE) -C Images clean
	rm -rf .build
