# Rasa NLU server targets, included from the Makefile (`include nlu/rasa.mk`).
#
#   make rasa-setup   .venv-rasa (Python 3.10 + nlu/requirements-rasa.txt), cached per requirements
#   make rasa-train   nlu/models/current.tar.gz, cached per hash of config, domain, data and dict
#   make rasa-serve   foreground server on $(RASA_HOST):$(RASA_PORT) (RASA_HOST=, RASA_PORT= override)
#
# The real venv and the models live under $(CACHE_DIR) so a fresh clone reuses them;
# .venv-rasa and nlu/models/current.tar.gz are only links into the cache.

CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/driverhome
export PIP_CACHE_DIR ?= $(CACHE_DIR)/pip

# No usage data leaves the machine (Rasa's telemetry is on by default).
export RASA_TELEMETRY_ENABLED := false

RASA_VENV := .venv-rasa
RASA_REQS := nlu/requirements-rasa.txt
RASA_KEY := $(shell cat $(RASA_REQS) | sha1sum | cut -c1-12)
RASA_VENV_REAL := $(CACHE_DIR)/rasa-venv-$(RASA_KEY)
RASA_BIN := $(RASA_VENV)/bin/rasa
# Anything that changes what the model learns (the custom tokenizer too); the Rasa venv key
# too (new Rasa, new model).
RASA_INPUTS := nlu/config.yml nlu/domain.yml nlu/data/nlu.yml $(sort $(wildcard nlu/dict/*)) nlu/rasa_components.py
RASA_MODEL_KEY = $(shell { echo $(RASA_KEY); cat $(RASA_INPUTS); } | sha1sum | cut -c1-16)
RASA_MODELS := $(CACHE_DIR)/rasa-models
RASA_MODEL := nlu/models/current.tar.gz
RASA_HOST ?= 127.0.0.1
RASA_PORT ?= 5005
# The token: $RASA_TOKEN, else nlu.rasa_token of config.yml ($DRIVERHOME_CONFIG), else the
# same development default as NluSettings.rasa_token.
RASA_DEV_TOKEN := driverhome-dev-token

.PHONY: rasa-setup rasa-train rasa-serve

# Python 3.10 (Rasa 3.6 does not support 3.11): $RASA_PYTHON, pyenv's 3.10.13, any pyenv 3.10.x.
define find_python310
py="$${RASA_PYTHON:-}"; \
if [ -z "$$py" ] && PYENV_VERSION=3.10.13 python3.10 -c '' 2>/dev/null; then \
  py="$$(PYENV_VERSION=3.10.13 python3.10 -c 'import sys; print(sys.executable)')"; fi; \
if [ -z "$$py" ] && command -v pyenv >/dev/null; then \
  py="$$(ls -d "$$(pyenv root)"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -n1)"; fi; \
if [ -z "$$py" ] || ! "$$py" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
  echo "rasa-setup: Python 3.10 not found. Install it (pyenv install 3.10.13) or set RASA_PYTHON=/path/to/python3.10" >&2; \
  exit 1; fi
endef

rasa-setup:
	@if [ -f "$(RASA_VENV_REAL)/.complete" ]; then \
	  ln -sfn "$(RASA_VENV_REAL)" $(RASA_VENV); exit 0; fi; \
	$(find_python310); \
	echo "rasa-setup: creating $(RASA_VENV_REAL) with $$py (a few minutes, cached afterwards)"; \
	rm -rf "$(RASA_VENV_REAL)" && mkdir -p "$(CACHE_DIR)" && \
	"$$py" -m venv "$(RASA_VENV_REAL)" && \
	"$(RASA_VENV_REAL)/bin/pip" install -q --disable-pip-version-check -r $(RASA_REQS) && \
	touch "$(RASA_VENV_REAL)/.complete" && ln -sfn "$(RASA_VENV_REAL)" $(RASA_VENV)

rasa-train: rasa-setup
	@key=$(RASA_MODEL_KEY); model="$(RASA_MODELS)/$$key.tar.gz"; \
	if [ ! -f "$$model" ]; then \
	  echo "rasa-train: training $$key (cached afterwards)"; t0=$$(date +%s); \
	  tmp=$$(mktemp -d) && \
	  $(RASA_BIN) train nlu --config nlu/config.yml --domain nlu/domain.yml --nlu nlu/data/nlu.yml \
	    --out "$$tmp" --fixed-model-name "$$key" && \
	  mkdir -p "$(RASA_MODELS)" && mv "$$tmp/$$key.tar.gz" "$$model" || { rm -rf "$$tmp"; exit 1; }; \
	  rm -rf "$$tmp"; \
	  echo "rasa-train: trained in $$(( $$(date +%s) - t0 )) s"; \
	fi; \
	mkdir -p $(dir $(RASA_MODEL)) && ln -sfn "$$model" $(RASA_MODEL) && echo "rasa-train: $(RASA_MODEL) -> $$model"

rasa-serve: rasa-train
	@token="$${RASA_TOKEN:-$$($(RASA_VENV)/bin/python -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1])) or {}; print((c.get("nlu") or {}).get("rasa_token") or "")' "$${DRIVERHOME_CONFIG:-config.yml}" 2>/dev/null)}"; \
	echo "rasa-serve: http://$(RASA_HOST):$(RASA_PORT), model $(RASA_MODEL) (Ctrl-C stops)"; \
	exec $(RASA_BIN) run --enable-api -m $(RASA_MODEL) -i $(RASA_HOST) -p $(RASA_PORT) \
	  --auth-token "$${token:-$(RASA_DEV_TOKEN)}"
