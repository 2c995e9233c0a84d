# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Test services (the machine's own PostgreSQL and Redis on loopback); override to isolate runs.
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/asi
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432

.PHONY: install run test fuzz lint services browser migrate demo bench clean help

help:
	@echo "make run    - start the server on http://127.0.0.1:8000 (SQLite, no Redis, demo data; PORT=8001 for another port)"
	@echo "make test   - lint, migration check and the whole test suite on PostgreSQL + Redis"
	@echo "make bench  - benchmarks, each beside its baseline"
	@echo "make fuzz   - schemathesis against the OpenAPI document, many more requests than make test"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# Embedded mode: no DATABASE_URL/REDIS_URL, so SQLite + in-process channel layer and tasks.
# `make run PORT=8001` serves another port (the simulated match follows it). Webhooks may target
# http:// and loopback URLs here (a receiver on this machine); never so in production.
PORT ?= 8000
run: export DEBUG ?= true
run: export WEBHOOKS_ALLOW_PRIVATE_URLS ?= true
run: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py migrate --noinput
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py load_demo_data --base-url http://127.0.0.1:$(PORT)
	@# A simulated match on alice's two demo vests streams live data once the server is up;
	@# it stops with the server (the trap), and a re-run starts a new one at the new "now".
	env -u DATABASE_URL -u REDIS_URL sh -c '\
		( sleep 3; exec $(BIN)/python manage.py simulate_match --local-token --url http://127.0.0.1:$(PORT) \
			--device-names a1b2c3d4e5f6,a1b2c3d4e5f7 --no-progress >/dev/null 2>&1 ) & \
		simulator=$$!; trap "kill $$simulator 2>/dev/null" EXIT INT TERM; \
		$(BIN)/daphne -b 127.0.0.1 -p $(PORT) \
			--ping-interval 20 --ping-timeout 30 --websocket_timeout -1 asi_api.asgi:application'

# Make sure PostgreSQL and Redis answer on loopback, starting them if installed but stopped.
services:
	@pg_isready -q -h $(PG_HOST) -p $(PG_PORT) || { \
		echo "starting PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
		for i in $$(seq 30); do pg_isready -q -h $(PG_HOST) -p $(PG_PORT) && break; sleep 1; done; }
	@pg_isready -h $(PG_HOST) -p $(PG_PORT)
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { \
		echo "starting Redis"; \
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; \
		for i in $$(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done; }
	@redis-cli -h 127.0.0.1 -p 6379 ping

# Headless Chromium for the browser tests (tests/pages/): Debian's package, which Playwright
# drives at this path (no browser download). Installed only when missing; needs root and apt.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium (browser tests)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: export DATABASE_URL = $(TEST_DATABASE_URL)
test: export REDIS_URL = $(TEST_REDIS_URL)
test: export SECRET_KEY ?= test-secret-key
test: export WEBHOOKS_ALLOW_PRIVATE_URLS = true
test: $(STAMP) services browser lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# `make test` runs tests/asi_api/test_schemathesis.py with a few requests per operation; this
# runs it alone with SCHEMATHESIS_EXAMPLES (default 200) generated requests per operation and role.
fuzz: export DATABASE_URL = $(TEST_DATABASE_URL)
fuzz: export REDIS_URL = $(TEST_REDIS_URL)
fuzz: export SECRET_KEY ?= test-secret-key
fuzz: export SCHEMATHESIS_EXAMPLES ?= 200
fuzz: $(STAMP) services
	$(BIN)/python -m pytest tests/asi_api/test_schemathesis.py $(PYTEST_ARGS)

bench: export DATABASE_URL = $(TEST_DATABASE_URL)
bench: export REDIS_URL = $(TEST_REDIS_URL)
bench: export SECRET_KEY ?= bench-secret-key
bench: $(STAMP) services
	$(BIN)/python -m pip install --quiet -e ".[bench]"  # floodlight, the analytics baseline
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .pytest_cache .ruff_cache
