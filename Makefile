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

.PHONY: install run test bench chat clean

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

test: install rasa-train
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

bench: install
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) data

include nlu/rasa.mk
