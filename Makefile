# serviceguide — one command to run the demo, one to test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed
# Every dependency, pinned with hashes (pyproject.toml keeps the ranges); `make lock` refreshes it.
LOCK   := requirements.lock

.PHONY: help install axe lock run serve migrate demo test test-unit test-integration test-e2e faults lint format bench clean

help:
	@echo "make run    set up (venv, dependencies, migrations, demo data) and serve on http://$(HOST):$(PORT)"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff and mypy"
	@echo "make lock   refresh requirements.lock after a change to the dependencies in pyproject.toml"

# Exactly what the lock says, every file checked against its hash; then the package itself,
# built with the locked setuptools.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Resolve pyproject.toml's dependencies (with the dev extra and the build backend) again and
# pin them with hashes. Pins already in the lock are kept unless pyproject.toml's ranges exclude
# them; `make lock UPGRADE=1` takes the newest versions the ranges allow.
UPGRADE ?=
lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'pip-tools>=7.4'
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --all-build-deps \
	  --extra dev --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
	  --output-file $(LOCK) pyproject.toml

migrate: install
	$(BIN)/serviceguide migrate

demo: migrate
	$(BIN)/serviceguide demo-data

SIM_PORT ?= 8001
# The demo data's ON-API TL (31420) pushes its orders to this port.
SP_SIM_PORT ?= 8002

run: demo
	@echo
	@echo "Tjänsteguiden:     http://$(HOST):$(PORT)/"
	@echo "Staff pages:       http://$(HOST):$(PORT)/staff/  (staff users above)"
	@echo "Administration:    http://$(HOST):$(PORT)/staff/admin/  (the admin users above)"
	@echo "XSP order API:     http://$(HOST):$(PORT)/plain/serviceguide_log  (reference: /docs)"
	@echo "KO simulator:      http://127.0.0.1:$(SIM_PORT)/  (the demo networks' direct activation and ON-API)"
	@echo "SP simulator:      http://127.0.0.1:$(SP_SIM_PORT)/31420/onapi/2.6/  (TL 31420 takes its orders over ON-API)"
	@echo "The credentials above are the demo's; '$(BIN)/serviceguide demo-data' prints them again."
	@$(BIN)/serviceguide ko-simulator --port $(SIM_PORT) & sim=$$!; \
	$(BIN)/serviceguide sp-simulator --port $(SP_SIM_PORT) & spsim=$$!; \
	trap 'kill $$sim $$spsim 2>/dev/null' EXIT INT TERM; \
	$(BIN)/serviceguide serve --host $(HOST) --port $(PORT)

# axe-core for the browser tests' accessibility checks, pinned by its package-lock.json.
AXE := tests/e2e/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/e2e/axe/package.json tests/e2e/axe/package-lock.json
	npm ci --prefix tests/e2e/axe --no-audit --no-fund --loglevel=error
	touch $(AXE)

axe: $(AXE)

# The whole suite on TEST_WORKERS pytest-xdist workers, the e2e and fault tests on at most half
# of them (tests/support/lanes.py; docs/performance.md, "The test suite").
TEST_WORKERS ?= 4
XDIST := -n $(TEST_WORKERS) --dist loadgroup

test: install $(AXE)
	$(BIN)/pytest $(XDIST)

test-unit: install
	$(BIN)/pytest -m unit

test-integration: install
	$(BIN)/pytest -m integration $(XDIST)

test-e2e: install $(AXE)
	$(BIN)/pytest -m e2e $(XDIST)

# The fault-injection tests alone (they also run in `make test`); docs/RELIABILITY.md.
faults: install
	$(BIN)/pytest -m faults -rA

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache

.PHONY: bench-api wrk
# The whole benchmark (docs/performance.md): the HTTP API on SQLite and PostgreSQL at 10 000 and
# 1 000 000 orders with 1 000 000 accesses, the scale-out checks, then the market database.
# Rewrites BENCHMARKS.md. Takes about 40 minutes on 2 cores.
bench: install wrk bench-api bench-streamlock bench-marketdb bench-upload bench-search bench-agentsp bench-sp bench-products

wrk:
	@command -v wrk >/dev/null || { sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null || \
	  { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }; }

# BENCH_ARGS="--sizes 10000 --accesses 100000 --seconds 2" for a quick look (then --no-write).
BENCH_ARGS ?=
bench-api: install wrk
	$(BIN)/python -m bench.api $(BENCH_ARGS)

.PHONY: bench-sp
# Placing guide orders for a TL that takes them over ON-API, the SP simulator answering in 0, 50,
# 200 and 1000 ms, on PostgreSQL and SQLite; writes the "ON-API push" section of BENCHMARKS.md.
SP_BENCH_ARGS ?=
bench-sp: install wrk
	$(BIN)/python -m bench.sp_push $(SP_BENCH_ARGS)

.PHONY: bench-search
# The staff order list's free-text search over 1 000 000 orders on SQLite and PostgreSQL; writes
# the "Staff search" section of BENCHMARKS.md. SEARCH_ORDERS=…, SEARCH_BACKEND=sqlite|postgresql|both.
SEARCH_ORDERS  ?= 1000000
SEARCH_BACKEND ?= both
bench-search: install
	$(BIN)/python -m bench.search --orders $(SEARCH_ORDERS) --backend $(SEARCH_BACKEND)

.PHONY: bench-products
# A TL's products document of 250 products × 4 offerings read into 4 networks, changed and half
# retired, and the served products read back, on SQLite and PostgreSQL; writes the "ON-API
# products" section of BENCHMARKS.md.
bench-products: install
	$(BIN)/python -m bench.products --products 250 --networks 4 --backend both

.PHONY: bench-marketdb
# Import 1 000 000 MdB2 accesses into SQLite and PostgreSQL and time address searches in them;
# writes the "Market database" section of BENCHMARKS.md. MDB_ROWS=…, MDB_BACKEND=sqlite|postgresql|both.
MDB_ROWS    ?= 1000000
MDB_BACKEND ?= both
bench-marketdb: install
	$(BIN)/python -m bench.marketdb --rows $(MDB_ROWS) --backend $(MDB_BACKEND)

.PHONY: bench-agentsp
# The agent's answer to the portal's push ([sp]): the portal's wait and pushes/s as the KO's time
# to finish grows. Writes "Agent: answering the portal's push" of BENCHMARKS.md. About 2 minutes.
AGENTSP_ORDERS ?= 40
bench-agentsp: install
	$(BIN)/python -m bench.agentsp --orders $(AGENTSP_ORDERS)

.PHONY: bench-upload
# A KO admin uploads a 1 000 000-row market-database file over real HTTP to `serve --workers 2`;
# time to import done and the workers' memory growth. Writes "Market-database upload on the web"
# of BENCHMARKS.md. UPLOAD_ROWS=…, UPLOAD_BACKEND=sqlite|postgresql|both.
UPLOAD_ROWS    ?= 1000000
UPLOAD_BACKEND ?= both
bench-upload: install
	$(BIN)/python -m bench.upload --rows $(UPLOAD_ROWS) --backend $(UPLOAD_BACKEND)

.PHONY: bench-streamlock bench-scale
# The stream lock's ceiling on PostgreSQL: set_status and add_message from serve --workers 2
# against its /healthz, then writes/s from 1, 2 and 4 servers on one database and from the
# database alone. Writes the "Stream lock" section of BENCHMARKS.md.
bench-streamlock: install wrk
	$(BIN)/python -m bench.streamlock

# National scale (not part of `make bench`; about an hour at SCALE=1): 200 networks, 10^7
# accesses through the importer, 10^7 orders of history on PostgreSQL. SCALE=0.1 for a tenth.
# Writes the "National scale" section of BENCHMARKS.md.
SCALE ?= 1
bench-scale: install wrk
	$(BIN)/python -m bench.scale --scale $(SCALE)
