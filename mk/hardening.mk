# Hardening: the Test::Nginx suite under memory checkers, and a
# load test with reloads.
#
#   make test-valgrind   the whole suite, nginx under valgrind memcheck
#                        (TEST_NGINX_USE_VALGRIND=1, ./valgrind.suppress);
#                        fails on any memcheck report or failed test
#   make test-asan       the module built with -fsanitize=address,undefined,
#                        the suite against Debian's nginx with the sanitizer
#                        runtimes preloaded; fails on any report or failed test
#   make soak            util/soak.sh: 60 s of wrk at saturation, hammered
#                        pinIds and a reload every 5 s (SOAK_SECONDS=...)
#
# Reports and logs go to $(BUILD)/hardening/.  TFA_HARDENING_TESTS picks
# other test files (default: all of t/*.t).
#
# Included by the top-level Makefile; also works on its own:
#     make -f mk/hardening.mk test-asan

# an included fragment must not steal the top-level default goal
TFA_HARDENING_SAVED_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build

TFA_HARDENING_DIR = $(BUILD)/hardening
TFA_HARDENING_TESTS ?= $(wildcard t/*.t)

# Under valgrind nginx starts in a second or two and runs some 20 to 50
# times slower: give the client and the shutdown of each block more time.
TFA_VALGRIND_TIMEOUT ?= 20

# Under valgrind Test::Nginx stops nginx after every block (so that each
# block's leaks are reported), which a block without --- config of its own,
# meant to go on with the server of the block before, cannot survive.
# Files written that way run in a second pass with TEST_NGINX_USE_HUP=1:
# one nginx under valgrind per file, reloaded (HUP) for each block, its
# leaks reported when it and each generation of workers exit.
TFA_VALGRIND_HUP_TESTS ?= $(filter t/limit.t t/metrics.t t/redis-basics.t \
                                    t/redis-failures.t t/redis-auth.t \
                                    t/redis-acl.t t/redis-tls.t \
                                    t/redis-sentinel.t t/redis-cluster.t,\
                                    $(TFA_HARDENING_TESTS))
TFA_VALGRIND_TESTS ?= $(filter-out $(TFA_VALGRIND_HUP_TESTS),\
                                   $(TFA_HARDENING_TESTS))

# clang: its ASan runtime carries UBSan's, both are set up when nginx
# starts (before nginx clears its environment) and both honour log_path.
# (gcc 12's libubsan writes to stderr whatever UBSAN_OPTIONS says, and
# stderr is nginx's error log, which Test::Nginx deletes block by block.)
# The module links the shared runtime (-shared-libasan), found through an
# rpath so that configure's test programs run too; nginx, which is not
# instrumented, gets it first through LD_PRELOAD.
#
# -Bsymbolic: a dynamic module defines ngx_modules[] (its own, of 2 entries)
# as nginx itself does, and nginx exports its own.  Without it the
# module's ASan global registration binds to nginx's array and poisons all
# but its first 2 entries as a redzone: the next reload's ngx_cycle_modules()
# copies the array and ASan reports a global-buffer-overflow in nginx.
# Bound to its own copy, the module registers its own globals only; nginx
# finds that copy with dlsym() on the module's handle either way.
TFA_ASAN_CC ?= clang
TFA_ASAN_RUNTIME ?= $(shell $(TFA_ASAN_CC) \
                        -print-file-name=libclang_rt.asan-x86_64.so)
TFA_ASAN_CFLAGS ?= -fsanitize=address,undefined -fno-omit-frame-pointer \
                   -fno-sanitize-recover=undefined
TFA_ASAN_LDFLAGS ?= -fsanitize=address,undefined -shared-libasan \
                    -Wl,-rpath,$(dir $(TFA_ASAN_RUNTIME)) -Wl,-Bsymbolic
TFA_ASAN_PRELOAD ?= $(TFA_ASAN_RUNTIME)

# detect_leaks=0: leaks are memcheck's job (make test-valgrind runs the
# same suite with --leak-check=full).  nginx itself is not instrumented: it
# allocates process-lifetime memory it never frees (ngx_set_environment,
# the single process's connection arrays) and frees its pools wholesale,
# so LeakSanitizer would only report nginx, never a block of the module's.
# halt_on_error / abort_on_error: the first report ends the worker (the
# master logs "exited on signal", the block fails) and is kept in a file.
TFA_ASAN_OPTIONS = detect_leaks=0:halt_on_error=1:abort_on_error=1:$\
                   detect_stack_use_after_return=1:strict_string_checks=1:$\
                   check_initialization_order=1:$\
                   log_path=$(abspath $(TFA_HARDENING_DIR))/asan/report
TFA_UBSAN_OPTIONS = halt_on_error=1:abort_on_error=1:print_stacktrace=1:$\
                    log_path=$(abspath $(TFA_HARDENING_DIR))/asan/report

.PHONY: test-valgrind test-asan soak

# One util/test.sh per file: a file that bails out does not hide the others.
test-valgrind:
	@mkdir -p $(TFA_HARDENING_DIR)
	@rm -f $(TFA_HARDENING_DIR)/valgrind.*
	@echo "test-valgrind: $(words $(TFA_VALGRIND_TESTS)) files, then" \
	      "$(words $(TFA_VALGRIND_HUP_TESTS)) with TEST_NGINX_USE_HUP=1;" \
	      "valgrind's output in $(TFA_HARDENING_DIR)/valgrind.log"
	@start=$$(date +%s); failed=; \
	for f in $(TFA_VALGRIND_TESTS); do \
	    echo "=== $$f" >> $(TFA_HARDENING_DIR)/valgrind.log; \
	    TEST_NGINX_USE_VALGRIND=1 TEST_NGINX_TIMEOUT=$(TFA_VALGRIND_TIMEOUT) \
	        util/test.sh $$f > $(TFA_HARDENING_DIR)/valgrind.out \
	        2>> $(TFA_HARDENING_DIR)/valgrind.log || failed="$$failed $$f"; \
	    grep -E '^(t/|Files=)' $(TFA_HARDENING_DIR)/valgrind.out; \
	    cat $(TFA_HARDENING_DIR)/valgrind.out >> $(TFA_HARDENING_DIR)/valgrind.log; \
	done; \
	for f in $(TFA_VALGRIND_HUP_TESTS); do \
	    echo "=== $$f (HUP)" >> $(TFA_HARDENING_DIR)/valgrind.log; \
	    TEST_NGINX_USE_VALGRIND=1 TEST_NGINX_USE_HUP=1 \
	    TEST_NGINX_TIMEOUT=$(TFA_VALGRIND_TIMEOUT) \
	        util/test.sh $$f > $(TFA_HARDENING_DIR)/valgrind.out \
	        2>> $(TFA_HARDENING_DIR)/valgrind.log || failed="$$failed $$f"; \
	    grep -E '^(t/|Files=)' $(TFA_HARDENING_DIR)/valgrind.out; \
	    cat $(TFA_HARDENING_DIR)/valgrind.out >> $(TFA_HARDENING_DIR)/valgrind.log; \
	done; \
	grep -E '^==[0-9]+== ' $(TFA_HARDENING_DIR)/valgrind.log \
	    > $(TFA_HARDENING_DIR)/valgrind.reports; \
	n=$$(grep -cE '^==[0-9]+== [^ ]' $(TFA_HARDENING_DIR)/valgrind.reports); \
	echo "test-valgrind: $$(( $$(date +%s) - start )) s," \
	     "$$n memcheck report line(s), failed files:$${failed:- none}"; \
	if [ "$$n" != 0 ]; then \
	    grep -B2 -A40 -E '^==[0-9]+== [^ ]' $(TFA_HARDENING_DIR)/valgrind.log \
	        | head -n 200; \
	    echo "test-valgrind: FAILED: memcheck reports," \
	         "see $(TFA_HARDENING_DIR)/valgrind.log"; \
	    exit 1; \
	fi; \
	if [ -n "$$failed" ]; then \
	    grep -E '^#|Bailout|FAILED' $(TFA_HARDENING_DIR)/valgrind.log \
	        | tail -n 40; \
	    echo "test-valgrind: FAILED: tests failed under valgrind:$$failed"; \
	    exit 1; \
	fi

test-asan:
	@mkdir -p $(TFA_HARDENING_DIR)/asan
	@rm -f $(TFA_HARDENING_DIR)/asan/report*
	@so=$$(CC=$(TFA_ASAN_CC) EXTRA_CFLAGS='$(TFA_ASAN_CFLAGS)' \
	       EXTRA_LDFLAGS='$(TFA_ASAN_LDFLAGS)' util/build.sh \
	       | tee /dev/stderr | sed -n 's/^build: \(\/.*\.so\)$$/\1/p'); \
	test -f "$$so" || { echo "test-asan: no module built" >&2; exit 1; }; \
	printf '#!/bin/sh\n# Debian nginx with the sanitizer runtime first\nLD_PRELOAD="%s" exec %s "$$@"\n' \
	    '$(strip $(TFA_ASAN_PRELOAD))' "$${TEST_NGINX_BINARY:-/usr/sbin/nginx}" \
	    > $(TFA_HARDENING_DIR)/nginx-asan; \
	chmod +x $(TFA_HARDENING_DIR)/nginx-asan; \
	echo "test-asan: $$so, reports in $(TFA_HARDENING_DIR)/asan/"; \
	start=$$(date +%s); \
	ASAN_OPTIONS='$(TFA_ASAN_OPTIONS)' UBSAN_OPTIONS='$(TFA_UBSAN_OPTIONS)' \
	TEST_NGINX_BINARY=$(abspath $(TFA_HARDENING_DIR))/nginx-asan \
	TEST_NGINX_LOAD_MODULES=$$so \
	    util/test.sh $(TFA_HARDENING_TESTS); \
	rc=$$?; \
	n=$$(ls $(TFA_HARDENING_DIR)/asan/ | grep -c '^report'); \
	echo "test-asan: $$(( $$(date +%s) - start )) s, tests exit $$rc," \
	     "$$n sanitizer report(s)"; \
	if [ "$$n" != 0 ]; then \
	    cat $(TFA_HARDENING_DIR)/asan/report* | head -n 200; \
	    echo "test-asan: FAILED: sanitizer reports in" \
	         "$(TFA_HARDENING_DIR)/asan/"; \
	    exit 1; \
	fi; \
	exit $$rc

soak:
	BUILD=$(BUILD) util/soak.sh

.DEFAULT_GOAL := $(TFA_HARDENING_SAVED_GOAL)
