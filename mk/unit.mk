# Unit tests for the plain-C parts (no nginx headers): "make unit".
#
# Included by the top-level Makefile; also works on its own:
#     make -f mk/unit.mk BUILD=build unit

# an included fragment must not steal the top-level default goal
TFA_UNIT_SAVED_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build

include $(dir $(lastword $(MAKEFILE_LIST)))plain.inc

TFA_UNIT_CC ?= gcc
TFA_UNIT_CFLAGS ?= -std=gnu99 -Wall -Wextra -Werror -g -O0 \
                   -fsanitize=address,undefined -fno-sanitize-recover=all \
                   -fno-omit-frame-pointer
TFA_UNIT_TESTS := $(BUILD)/unit/check_test $(BUILD)/unit/normalize_test

.PHONY: unit unit-build

unit: $(TFA_UNIT_TESTS)
	prove -e '' $(TFA_UNIT_TESTS)

unit-build: $(TFA_UNIT_TESTS)

$(BUILD)/unit/%_test: t/unit/%_test.c t/unit/tap.h $(TFA_PLAIN_DEPS)
	@mkdir -p $(@D)
	$(TFA_UNIT_CC) $(TFA_UNIT_CFLAGS) -Isrc -It/unit $(TFA_PKG_CFLAGS) \
	    -o $@ $< $(TFA_PLAIN_SRCS) $(TFA_PKG_LIBS)

.DEFAULT_GOAL := $(TFA_UNIT_SAVED_GOAL)
