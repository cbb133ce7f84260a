# The version matrix: "make matrix" builds nginx from each source tree or
# tarball in ../shared/nginx-src/ (or NGX_MATRIX_SRC="tree-or-tarball ..."),
# the module against it (no --with-debug, --with-compat), and runs the
# Test::Nginx suite against each; one line per version, non-zero when any
# fails.  Builds go to $(BUILD)/matrix/; nginx itself is built once per
# source.  TFA_MATRIX_TESTS picks other test files (default: all of t/*.t).
#
# Included by the top-level Makefile; also works on its own:
#     make -f mk/matrix.mk matrix

# an included fragment must not steal the top-level default goal
TFA_MATRIX_SAVED_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build
TFA_MATRIX_TESTS ?=

.PHONY: matrix

matrix:
	BUILD=$(BUILD) util/matrix.sh $(TFA_MATRIX_TESTS)

.DEFAULT_GOAL := $(TFA_MATRIX_SAVED_GOAL)
