# The benchmark kit: "make bench" is the full run (about ten
# minutes; writes bench/results/<date>.md), "make bench-smoke" about a
# second per gateway, for CI: it checks that the kit works and prints the
# table, asserting no target.  See bench/run.sh for the knobs.
#
# Included by the top-level Makefile; also works on its own:
#     make -f mk/bench.mk bench-smoke

# an included fragment must not steal the top-level default goal
TFA_BENCH_SAVED_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build

.PHONY: bench bench-smoke

bench:
	BUILD=$(BUILD) bench/run.sh full

bench-smoke:
	BUILD=$(BUILD) bench/run.sh smoke

.DEFAULT_GOAL := $(TFA_BENCH_SAVED_GOAL)
