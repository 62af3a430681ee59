# SPDX-License-Identifier: GPL-2.0
#
# leaktrace: top-level entry points.
#
#   make demo     set up, build, and trace a diffusion scenario across VMs
#   make check    unit tests, builds, every testbed suite incl. diffusion, robustness and a bench smoke (TAP)
#   make bench    multi-VM latency evaluation, writes Documentation/evaluation.md
#   make stress   robustness suites at full size (hours; Documentation/security.md)
#
# Everything heavy (the testbed kernel) is cached outside the checkout in
# $(LEAKTRACE_CACHE) (default /var/cache/leaktrace); see README.md.

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(ROOT)/build
VARIANT ?= release
export LEAKTRACE_KERNEL_VARIANT := $(VARIANT)
# `make check SUITES="smoke diffusion"`: only those testbed suites (the
# unit tests and builds always run); see scripts/check.
ifdef SUITES
export LEAKTRACE_CHECK_SUITES := $(SUITES)
endif

# Static binaries that run inside the testbed (L1 host and L2 guests).
RUST_TARGET := x86_64-unknown-linux-gnu
STATIC_RUSTFLAGS := -C target-feature=+crt-static
USER_BINS := leaktrace lt-devtest lt-ioctlfuzz

# Static C test programs for the L2 guests (build/bin/* is every guest's
# /usr/bin): they make their system calls with their own syscall
# instruction, so the testbed sees exactly the arguments they print.
GUEST_CFLAGS := -static -O2 -Wall -Wextra -Werror
GUEST_BINS := lt-syscalls lt-ident lt-udp lt-diffuse lt-bench lt-ringbench lt-membench lt-fuzz lt-forge
GUEST_H := $(ROOT)/selftests/leaktrace/guest/lt-guest.h

.PHONY: all setup kernel module user guest guest-kernels kvm-selftest testbed-deps check unit-test stability bench stress demo clean help

all: testbed-deps

help:
	@sed -n 's/^#   //p' $(ROOT)/Makefile

setup:
	@$(ROOT)/scripts/setup

# The kernel build is cached; this prints the cached tree when it is warm.
kernel: setup
	@$(ROOT)/scripts/build-kernel --variant $(VARIANT) >/dev/null

# leaktrace.ko, built out of tree against the cached kernel, objects in
# build/kmod (MO=) so the source tree stays clean.
module: kernel
	@$(ROOT)/scripts/build-module --variant $(VARIANT)

# Userspace: the reader and the in-testbed test programs, linked statically
# so they run in L1 and L2 without the host's libraries.
user:
	@cargo build --quiet --release --locked --target $(RUST_TARGET) \
		--target-dir $(BUILD)/cargo \
		$(foreach b,$(USER_BINS),--bin $(b)) \
		--config 'target.$(RUST_TARGET).rustflags=["$(subst $() ,"$(comma)",$(STATIC_RUSTFLAGS))"]'
	@mkdir -p $(BUILD)/bin
	@$(foreach b,$(USER_BINS),install -m 0755 $(BUILD)/cargo/$(RUST_TARGET)/release/$(b) $(BUILD)/bin/$(b);)

comma := ,

guest: $(addprefix $(BUILD)/bin/,$(GUEST_BINS))

$(BUILD)/bin/lt-syscalls: $(ROOT)/selftests/leaktrace/guest/lt-syscalls.c $(GUEST_H)
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

$(BUILD)/bin/lt-ident: $(ROOT)/selftests/leaktrace/guest/lt-ident.c $(GUEST_H)
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -pthread -o $@.tmp $< && mv $@.tmp $@

# UDP for scenario scripts (the guests' busybox nc has no -u); plain libc calls.
$(BUILD)/bin/lt-udp: $(ROOT)/selftests/leaktrace/guest/lt-udp.c
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

# One diffusion mechanism per mode, for the diffusion scenarios; libc calls.
$(BUILD)/bin/lt-diffuse: $(ROOT)/selftests/leaktrace/guest/lt-diffuse.c $(GUEST_H)
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -pthread -o $@.tmp $< && mv $@.tmp $@

# System-call latency in a guest, and the other VMs' read() load (make bench).
$(BUILD)/bin/lt-bench: $(ROOT)/selftests/leaktrace/guest/lt-bench.c $(GUEST_H)
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

# The hostile guest of the robustness suites (make check, make stress).
$(BUILD)/bin/lt-fuzz: $(ROOT)/selftests/leaktrace/guest/lt-fuzz.c $(GUEST_H)
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

# A guest that forges the structures leaktrace reads (robustness suites).
$(BUILD)/bin/lt-forge: $(ROOT)/selftests/leaktrace/guest/lt-forge.c $(GUEST_H)
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

# What copying a record costs on L1's (emulated) CPU (make bench).
$(BUILD)/bin/lt-membench: $(ROOT)/selftests/leaktrace/membench/lt-membench.c
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

# Throughput of /dev/leaktrace's ring, run in L1 (make bench).
$(BUILD)/bin/lt-ringbench: $(ROOT)/selftests/leaktrace/ringbench/lt-ringbench.c
	@mkdir -p $(dir $@)
	@$(CC) $(GUEST_CFLAGS) -pthread -o $@.tmp $< && mv $@.tmp $@

# The KVM selftest of the trap series (patches/0008), built against the
# testbed kernel tree and cached outside the checkout.
kvm-selftest: kernel
	@$(ROOT)/scripts/build-kvm-selftest >/dev/null

# Debian's stock 7.3 kernel for L2 guests whose vmN.kernel says "debian":
# downloaded (not installed) into $(LEAKTRACE_CACHE)/guest-kernels.
guest-kernels: setup
	@$(ROOT)/scripts/fetch-guest-kernel

testbed-deps: module user guest kvm-selftest guest-kernels

unit-test:
	@cargo test --quiet --locked --target-dir $(BUILD)/cargo-host

check: setup
	@$(ROOT)/scripts/check

# The multi-VM latency evaluation: writes build/bench/<time>/ and
# regenerates Documentation/evaluation.md (about 40 minutes; not in check).
bench: setup testbed-deps
	@$(ROOT)/scripts/bench

# The robustness suites at full size: hostile guest, forged structures,
# floods, 100 load/unload cycles, ioctl and decoder fuzzing (hours; not
# in check). See Documentation/security.md.
stress: setup testbed-deps
	@$(ROOT)/scripts/stress

# Repeated L1 boots under heavy L2 exit load (RUNS=3 by default).
stability: setup testbed-deps
	@$(ROOT)/scripts/stability $(RUNS)

demo: setup testbed-deps
	@$(ROOT)/scripts/demo

clean:
	rm -rf $(BUILD)
