# Two commands matter: `make run` and `make test` (see README). Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/driverhome
export PIP_CACHE_DIR ?= $(CACHE_DIR)/pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
INSTALL_KEY := $(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(INSTALL_KEY)

.PHONY: install run test bench chat clean pg-stop

$(STAMP): pyproject.toml requirements.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# With nlu.backend auto (the default) or rasa, the Rasa server is set up, trained and started
# in the background (first time: several minutes, then cached); the embedded model answers
# until it is up. It stops when the bot stops.
run: install
	@backend=$$($(VENV)/bin/python -c 'from bot.config import load_settings; print(load_settings().nlu.backend)' 2>/dev/null || echo embedded); \
	if [ "$$backend" != embedded ]; then \
	  mkdir -p data; echo "Rasa NLU starts in the background (log: data/rasa.log)."; \
	  setsid $(MAKE) -s rasa-serve > data/rasa.log 2>&1 < /dev/null & rasa_pid=$$!; \
	  trap 'kill -- -$$rasa_pid 2>/dev/null' EXIT INT TERM; \
	fi; \
	$(VENV)/bin/driverhome run

chat: install
	$(VENV)/bin/driverhome chat

# The storage, ticket, outbox and study tests run on SQLite and on PostgreSQL: a throwaway
# PostgreSQL server is started on 127.0.0.1 (Debian's package is installed if missing).
test: install rasa-train
	@pg_url=$$(bash tests/pg_server.sh) && \
	  DRIVERHOME_TEST_PG_URL=$$pg_url $(VENV)/bin/python -m pytest -q -p no:cacheprovider

# Stops the tests' PostgreSQL server (make test starts it again when needed).
pg-stop:
	@dir=$${DRIVERHOME_PG_DIR:-$${TMPDIR:-/tmp}/driverhome-pg-$${DRIVERHOME_PG_PORT:-54329}}; \
	  if [ "$$(id -u)" = 0 ]; then as="runuser -u postgres --"; fi; \
	  $$as $$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl -D $$dir stop -m fast

bench: install
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) data

include nlu/rasa.mk
