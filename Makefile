# The two set-up commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
STAMP  := $(VENV)/.installed

.PHONY: demo test test-faults test-faults-short install system-deps translations lint bench bench-load bench-fuzz clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP) translations

# Debian packages the system needs: redis-server (demo and tests start a private one when no
# Redis answers), chromium for the browser tests and openssl for the TLS fetch tests' throwaway
# certificates. Installed only when missing.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (apt-get install$$missing)"; fi; \
	fi

translations: $(STAMP)
	$(PY) -m moderation.core.i18n

demo: system-deps install
	$(PY) -m moderation.demo.devstack

# SQLite pass runs everything; the PostgreSQL pass re-runs every database test except those
# whose subject is not the database (the browser, media decoding, the hostile-media worker run,
# schemathesis over the API: the view, intake and fuzz tests cover their database writes on
# both), to keep `make test` under ten minutes. The fault-injection suite (tests/faults/,
# minutes of real outages and kills) is its own target.
PG_PASS_SKIPS := --ignore=tests/faults --ignore=tests/e2e --ignore=tests/media \
	--ignore=tests/workers/test_hostile_corpus_worker.py \
	--deselect=tests/intake/test_openapi.py::test_schemathesis_finds_no_server_error
test: system-deps install
	$(VENV)/bin/ruff check moderation models workers tests bench
	$(PY) -m pytest -q -n 2 --dist loadfile --ignore=tests/faults
	MODERATION_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -n 2 --dist loadfile -m db $(PG_PASS_SKIPS)

# Fault injection (tests/faults/): workers killed, Redis and PostgreSQL stopped, filled and
# restarted mid-run, failover, two hosts, backup and restore. `test-faults-short` (run by CI
# after `make test`) is each fault in its shortened form, on SQLite and again on PostgreSQL;
# `test-faults` runs them at the issue's sizes (FAULTS_SCALE=full).
test-faults-short: system-deps install
	$(PY) -m pytest -q -n 2 --dist loadfile tests/faults
	MODERATION_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -n 2 --dist loadfile -m db tests/faults

test-faults: system-deps install
	FAULTS_SCALE=full $(PY) -m pytest -q -s tests/faults
	FAULTS_SCALE=full MODERATION_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -s -m db tests/faults

lint: install
	$(VENV)/bin/ruff check moderation models workers tests bench

bench: install
	$(PY) bench/index.py --n 1000000

# Intake and triage together at a rising rate (locust, headless), on PostgreSQL and Redis.
bench-load: install
	$(PIP) install --quiet -e ".[bench]"
	$(PY) bench/load.py

# The long hostile-input runs: hypothesis over decoding and the webhook parser, schemathesis.
bench-fuzz: install
	$(PY) bench/fuzz.py

clean:
	rm -rf $(VENV) .demo instance
