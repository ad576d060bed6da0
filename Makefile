# The two README commands: `make demo` (set up, then the main job) and `make test` (set up, then all tests).
.PHONY: setup demo test clean
setup:
	@bash scripts/setup.sh
demo: setup
	@bash scripts/ros-confined-or-plain .venv/bin/vn-perception demo $(ARGS)
test: setup
	@bash scripts/run_tests.sh $(ARGS)
clean:
	rm -rf .venv build install log .cache
