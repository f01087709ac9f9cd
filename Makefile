# The two set-up commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
STAMP  := $(VENV)/.installed

.PHONY: demo test test-faults install system-deps translations lint bench bench-load bench-fuzz clean

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

# SQLite pass runs everything; the PostgreSQL pass re-runs every database test.
test: system-deps install
	$(VENV)/bin/ruff check moderation models workers tests bench
	$(PY) -m pytest -q -n 2 --dist loadfile
	MODERATION_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -n 2 --dist loadfile -m db

# Fault injection (tests/faults/): workers killed, Redis and PostgreSQL stopped, filled and
# restarted mid-run. `make test` runs a shortened version; FAULTS_SCALE=full the issue's sizes.
test-faults: system-deps install
	FAULTS_SCALE=full $(PY) -m pytest -q -s tests/faults

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
