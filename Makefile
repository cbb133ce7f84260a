# Entry points; the scripts in util/ do the work so that the README's two
# commands need nothing but bash.

BUILD ?= build

.PHONY: all module run stop test unit fuzz fuzz-smoke clean

all: module

module:
	util/build.sh

run:
	util/run.sh

stop:
	util/run.sh stop

test:
	util/test.sh

clean:
	rm -rf $(BUILD) t/servroot

-include mk/*.mk
