# The two commands a newcomer needs: `make run` and `make test`. Both do all set-up.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SYSTEM_REDIS := /usr/bin/redis-server

.PHONY: run test setup lint typecheck contracts pytest bench soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install --quiet -e ".[engine,dev]"
	touch $(STAMP)

$(CHROMIUM):
	command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: browser tests will be skipped"

# Debian's redis-server 7.x: the state tests also run against it, as an external Redis
$(SYSTEM_REDIS):
	command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
	  || echo "redis-server not installed: the tests against an external Redis 7 will be skipped"

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/draftloop up

lint: $(STAMP)
	$(BIN)/ruff check bot engine adapters tests
	$(BIN)/ruff format --check bot engine adapters tests

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP) $(CHROMIUM) $(SYSTEM_REDIS)
	$(BIN)/pytest -q

test: lint typecheck contracts pytest

# make bench BENCH_ARGS="--suite gpu --budget 480 --json" on a GPU machine
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/draftloop bench $(BENCH_ARGS)

# faults against a real `draftloop up` (Redis kills, bursts, races, hostile input, worker kills), bounded
# in time; not part of `make test`:  make soak SOAK_MINUTES=3
SOAK_MINUTES ?= 3
soak: $(STAMP)
	$(BIN)/python ops/soak.py --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
