# Two commands: `make demo` runs the algorithms on the sample data, `make test` runs the tests.
# Both do the (idempotent) set-up first: apt packages, .venv, pip packages.
.PHONY: setup demo test test-unit package clean

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

test-unit: setup
	bash scripts/test.sh tests/unit

package: setup
	bash scripts/package.sh

clean:
	rm -rf output .qgis-profile .qgis-settings .pytest_cache
