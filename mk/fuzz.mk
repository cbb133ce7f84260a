# libFuzzer targets for the plain-C parts: "make fuzz" (FUZZ_SECONDS each,
# default 10) and "make fuzz-smoke" (2 s each).  Each target starts from its
# committed seeds in fuzz/corpus/<target>/; new inputs go to
# $(BUILD)/fuzz/work/<target>/ and crashes to $(BUILD)/fuzz/artifacts/, so
# the committed corpus only changes by hand (keep crashing inputs there).
#
# Included by the top-level Makefile; also works on its own:
#     make -f mk/fuzz.mk BUILD=build fuzz

# an included fragment must not steal the top-level default goal
TFA_FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build
FUZZ_SECONDS ?= 10

include $(dir $(lastword $(MAKEFILE_LIST)))plain.inc

TFA_FUZZ_CC ?= clang
TFA_FUZZ_CFLAGS ?= -std=gnu99 -Wall -Wextra -Werror -g -O1 \
                   -fsanitize=fuzzer,address,undefined \
                   -fno-sanitize-recover=all -fno-omit-frame-pointer
TFA_FUZZ_TARGETS := normalize normalize_diff body uri secret path
TFA_FUZZ_BINS := $(TFA_FUZZ_TARGETS:%=$(BUILD)/fuzz/%_fuzz)

# deep nesting needs room; the path and the credentials are short
TFA_FUZZ_OPTS_normalize ?= -max_len=16384
# the fast path is for answers of a few hundred bytes; JSON tokens help
TFA_FUZZ_OPTS_normalize_diff ?= -max_len=4096 \
                                -dict=fuzz/normalize_diff.dict
TFA_FUZZ_OPTS_body ?= -max_len=32768
TFA_FUZZ_OPTS_uri ?= -max_len=512
TFA_FUZZ_OPTS_secret ?= -max_len=512
TFA_FUZZ_OPTS_path ?= -max_len=256 -dict=fuzz/path.dict

.PHONY: fuzz fuzz-smoke fuzz-build

fuzz-build: $(TFA_FUZZ_BINS)

$(BUILD)/fuzz/%_fuzz: fuzz/%_fuzz.c fuzz/fuzz_assert.h fuzz/fuzz_answer.h \
                   $(TFA_PLAIN_DEPS)
	@mkdir -p $(@D)
	$(TFA_FUZZ_CC) $(TFA_FUZZ_CFLAGS) -Isrc -Ifuzz $(TFA_PKG_CFLAGS) \
	    -o $@ $< $(TFA_PLAIN_SRCS) $(TFA_PKG_LIBS)

# One run per target: quiet while it goes, the exec count when it ends, the
# log's tail and a failure when it crashes.  The tfa-fuzz-run-* targets are
# not .PHONY (a phony target skips pattern rules) but never exist as files.
TFA_FUZZ_TIME = $(FUZZ_SECONDS)

fuzz: $(TFA_FUZZ_TARGETS:%=tfa-fuzz-run-%)

fuzz-smoke: TFA_FUZZ_TIME = 2
fuzz-smoke: $(TFA_FUZZ_TARGETS:%=tfa-fuzz-run-%)

tfa-fuzz-run-%: $(BUILD)/fuzz/%_fuzz
	@mkdir -p $(BUILD)/fuzz/work/$* $(BUILD)/fuzz/artifacts
	@echo "fuzz: $*, $(TFA_FUZZ_TIME) s"
	@if $(BUILD)/fuzz/$*_fuzz $(TFA_FUZZ_OPTS_$*) \
	        -max_total_time=$(TFA_FUZZ_TIME) -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/artifacts/$*- \
	        $(BUILD)/fuzz/work/$* fuzz/corpus/$* \
	        > $(BUILD)/fuzz/$*.log 2>&1; \
	then \
	    grep -E '^(stat::(number_of_executed_units|peak_rss)|info: )' \
	        $(BUILD)/fuzz/$*.log | sed 's/^/    $*: /'; \
	else \
	    tail -n 60 $(BUILD)/fuzz/$*.log; \
	    echo "fuzz: $* FAILED, see $(BUILD)/fuzz/$*.log and" \
	         "$(BUILD)/fuzz/artifacts/"; \
	    exit 1; \
	fi

.DEFAULT_GOAL := $(TFA_FUZZ_SAVED_GOAL)

# built by a pattern rule in a chain: keep them, they are the deliverable
.SECONDARY: $(TFA_FUZZ_BINS)
