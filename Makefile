.PHONY: setup setup-test run test bench lint clean-db

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

## set everything up, then start the database, load the sample, compute the
## service circles and serve the API on 127.0.0.1:8000
run: setup
	.venv/bin/servicemap up

## set everything up, then run the whole test suite
test: setup-test
	.venv/bin/python -m pytest

bench: setup-test
	.venv/bin/python bench/isochrones.py
	.venv/bin/python bench/isochrones_db.py
	.venv/bin/python bench/coverage.py
	.venv/bin/python bench/imports.py
	.venv/bin/python bench/api.py
	.venv/bin/python bench/maps.py
	.venv/bin/python bench/load.py

lint: setup
	.venv/bin/ruff check .

clean-db:
	-.venv/bin/servicemap db stop
	rm -rf .servicemap
