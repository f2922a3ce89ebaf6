# The two commands: `make run` and `make test`. Everything else is a step they use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: install lock run demo test lint openapi openapi-check bench clean db-stop browser node broker pooler nginx prometheus etcd backup-tools ops

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The operations' tools the suite needs beside (Barman: its psycopg2 builds from source), never needed by
# `make run` or `make demo`.
OPS_STAMP := $(VENV)/.installed-ops
$(OPS_STAMP): $(STAMP) | backup-tools
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,ops]'
	touch $(OPS_STAMP)

ops: $(OPS_STAMP) ## install the operations' tools (Barman) the restore drill needs

install: $(STAMP) ## create .venv and install the project with its development tools, at the versions of constraints.txt

lock: ## refresh constraints.txt: the newest versions pyproject.toml admits, installed in a throw-away venv
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[dev,ops]'
	{ echo "# Every package make install installs, at the version CI tested: refreshed by \`make lock\`."; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > constraints.txt
	rm -rf .lock-venv

run: install ## embedded PostgreSQL + migrations + API on http://$(HOST):$(PORT)
	$(BIN)/snp serve --host $(HOST) --port $(PORT)

demo: install ## the Indre's last four weeks, then a live shift (calls wait for named regulators); own data folder (.data-demo); one Ctrl-C stops it all
	$(BIN)/python -m tools.simulator demo --host $(HOST) --port $(PORT)

browser: ## Debian's Chromium for the console's browser test (installed when missing and we are root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium (Debian package) for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: the console's browser test will be skipped"; fi; }

node: ## Debian's Node.js for the console modules' unit tests (installed when missing and we are root)
	@{ command -v node >/dev/null 2>&1 || command -v nodejs >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Node.js (Debian package) for the console modules' unit tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; \
	  else echo "node is missing: the console modules' unit tests will be skipped"; fi; }

broker: ## Debian's RabbitMQ for the Hub Santé test (installed when missing and we are root)
	@{ command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing RabbitMQ (Debian package) for the Hub Santé test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null; \
	  else echo "rabbitmq-server is missing: the Hub Santé test will be skipped"; fi; }

pooler: ## Debian's PgBouncer for the several-instances test and benchmark (installed when missing and we are root)
	@{ command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing PgBouncer (Debian package) for the several-instances test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
	  else echo "pgbouncer is missing: the several-instances test will be skipped"; fi; }

nginx: ## Debian's nginx, openssl and curl for the fronts' tests (deploy/nginx/; installed when missing and we are root)
	@{ { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } && command -v openssl >/dev/null 2>&1 \
	  && command -v curl >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nginx, openssl and curl (Debian packages) for the fronts' tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssl curl >/dev/null; \
	  else echo "nginx is missing: the front's test will be skipped"; fi; }

prometheus: ## Debian's promtool and amtool for the alerts' tests (deploy/prometheus/, deploy/alertmanager/; installed when missing and we are root)
	@{ command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Prometheus and Alertmanager (Debian packages) for the alerts' tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null; \
	  else echo "promtool or amtool is missing: the alerts' tests will be skipped"; fi; }

etcd: ## Debian's etcd, Patroni's store in the failover test (deploy/patroni/; installed when missing and we are root)
	@{ command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing etcd (Debian packages etcd-server, etcd-client) for the failover test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null; \
	  else echo "etcd is missing: the failover test will be skipped"; fi; }

backup-tools: ## Debian's gcc and libpq-dev (Barman's psycopg2 builds from source), GnuPG, rsync and file for the backups (installed when missing and we are root)
	@{ command -v gcc >/dev/null 2>&1 && command -v pg_config >/dev/null 2>&1 && command -v gpg >/dev/null 2>&1 \
	  && command -v rsync >/dev/null 2>&1 && command -v file >/dev/null 2>&1 && $(PYTHON) -c \
	  'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))'; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing gcc, libpq-dev, gnupg, rsync and file (Debian packages) for Barman and the restore drill"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      gcc libc6-dev libpq-dev python3-dev gnupg rsync file >/dev/null; \
	  else echo "gcc, libpq-dev, gnupg, rsync or file is missing: Barman will not install, the restore drill will be skipped"; fi; }

test: install ops browser node broker pooler nginx prometheus etcd ## ruff, mypy, then the whole suite on a real PostgreSQL (embedded, or SNP_TEST_DATABASE_URL)
	$(BIN)/ruff check app tests migrations load_tests tools
	$(BIN)/mypy app tools
	$(BIN)/lint-imports --no-cache
	@if [ -n "$(PYTEST_ARGS)" ]; then $(BIN)/python -m pytest -q --durations=25 $(PYTEST_ARGS); \
	else $(BIN)/python -m tools.test_groups; fi

lint: install
	$(BIN)/ruff check app tests migrations load_tests tools
	$(BIN)/mypy app tools
	$(BIN)/lint-imports --no-cache

openapi: install ## regenerate openapi/openapi.json from the app
	$(BIN)/snp openapi --out openapi/openapi.json

openapi-check: install
	$(BIN)/snp openapi --out openapi/openapi.json --check

bench: install ## benchmarks (load_tests/), figures written to load_tests/results.md
	$(BIN)/python -m load_tests.run_all

db-stop: install ## stop the embedded PostgreSQL if a crashed run left it running
	$(BIN)/snp db stop

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
