# Two commands matter: `make demo` (the main job) and `make test` (the whole suite).
# Both install what they need on a fresh machine from the package registries only, and reuse it
# on later runs (stamp files under .venv/ and node_modules/).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
SLITHER_VENV := .venv-slither
SLITHER_STAMP := $(SLITHER_VENV)/.installed
NODE_STAMP := node_modules/.installed

# The compiler version is pinned once, in package.json; brownie-config.yaml must agree.
SOLC_VERSION = $(shell node -p 'require("./package.json").dependencies.solc')
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
SOLC_BIN = $(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION)
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

# Steps of the stateful invariant test per pool token: 2000 in `make test`, the release bar
# (25000) in `make fuzz`. The root-mode invariant test (test_roots_invariants.py) runs
# ROOTS_FUZZ_STEPS per token in `make test` (about 30 s each: its steps prove leaves), the same
# release bar in `make fuzz`. Examples per attribution property: 150 in `make test`, 5000 in
# `make fuzz`.
FUZZ_STEPS ?= 2000
ROOTS_FUZZ_STEPS ?= 400
RELEASE_FUZZ_STEPS ?= 25000
RELEASE_ATTRIBUTION_EXAMPLES ?= 5000
# Random histories of the root-mode pro-rata property (test_roots_pro_rata.py): 40 in `make test`.
RELEASE_ROOTS_PROPERTY_EXAMPLES ?= 1000
export FUZZ_STEPS ROOTS_FUZZ_STEPS

# Trials of the replica soak test (tests/relayer/test_soak.py): a few in `make test`, the release
# bar in `make soak`. SOAK_SEED=<n> replays a run's kill points.
MAKE_TEST_SOAK_TRIALS ?= 2
SOAK_TRIALS ?= 20

.PHONY: help setup toolchain compile lint slither postgres test test-contracts compat fuzz soak \
	bench bench-gas demo serve drill clean web chromium wheel relayer-lock revision

help:
	@echo "make demo   run the data union end to end on a local chain"
	@echo "make test   install what is missing, lint, compile and run the whole test suite"
	@echo "make serve  the demo, then keep its chain and relayer running (Ctrl-C stops them)"
	@echo "make drill  the stolen-key drill: a thief's table vetoed by the watcher, members paid"
	@echo "make fuzz   the release-level campaign ($(RELEASE_FUZZ_STEPS) invariant steps per token"
	@echo "            for each kind of union,"
	@echo "            $(RELEASE_ATTRIBUTION_EXAMPLES) examples per attribution property)"
	@echo "make soak   $(SOAK_TRIALS) trials of three relayer replicas on one PostgreSQL, the sending"
	@echo "            one SIGKILLed at random points ($(MAKE_TEST_SOAK_TRIALS) in make test)"
	@echo "make slither  static analysis; fails on any high or medium finding (see SECURITY.md)"
	@echo "make compat  the union and relayer on Hardhat Network (a second EVM implementation)"
	@echo "make bench  relayer benchmarks: attribution, epoch posting, member reads, root-mode"
	@echo "            trees, proofs and the watcher's check at 1,000,000 members"
	@echo "make bench-gas  gas against PaymentSplitter and MerkleDistributor, 10 to 100,000 members,"
	@echo "            and the root-mode union up to 1,000,000"
	@echo "make wheel  the relayer for operators: dist/data_union-*.whl (ABIs and member page inside)"
	@echo "            and dist/requirements.relayer.lock; install both in a venv, no checkout needed:"
	@echo "            pip install --no-deps -r requirements.relayer.lock data_union-*.whl"
	@echo "make relayer-lock  re-resolve requirements.relayer.lock from pyproject's dependencies"

# The one dependency conflict we accept is spelled out in requirements.nodeps.lock; pip check
# must report nothing else. (The relayer's own lock, requirements.relayer.lock, has no conflict.)
KNOWN_CONFLICT := ^pydantic-settings [0-9.]+ has requirement python-dotenv
$(PY_STAMP): requirements.lock requirements.nodeps.lock pyproject.toml
	@echo "==> Python environment ($(VENV))"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.nodeps.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	! $(BIN)/pip check | grep -vE '$(KNOWN_CONFLICT)'
	touch $@

# Slither gets a venv of its own: its dependency solc-select installs a `solc` launcher (one that
# downloads compilers), which py-solc-x would take as its default compiler if it sat in brownie's
# bin/ on PATH; and brownie's lock stays as it is. Slither compiles with the project's offline
# solc (slither.config.json); its pins are in requirements.slither.lock.
$(SLITHER_STAMP): requirements.slither.lock
	@echo "==> Static analysis environment ($(SLITHER_VENV))"
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.slither.lock
	$(SLITHER_VENV)/bin/pip check
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@echo "==> Node tools (node_modules)"
	npm ci --no-audit --no-fund
	touch $@

# A link to the script, so edits to it need no rebuild; solc-js must be installed first.
$(SOLC_BIN): | $(NODE_STAMP)
	@echo "==> Offline solc $(SOLC_VERSION) at $@"
	mkdir -p $(SOLCX_BINARY_PATH)
	ln -sfn $(CURDIR)/tools/solc/solc.js $@

setup: $(PY_STAMP) $(NODE_STAMP) toolchain web

# The member web page: src/relayer/web bundled by esbuild (pinned in package.json, with the
# libraries it bundles) into src/relayer/web/dist, which the relayer serves at /assets. No CDN:
# everything the page runs is in the bundle.
WEB_DIR := src/relayer/web
WEB_BUNDLE := $(WEB_DIR)/dist/app.js
WEB_SOURCES := $(wildcard $(WEB_DIR)/js/*.js $(WEB_DIR)/js/*.json $(WEB_DIR)/*.css)
$(WEB_BUNDLE): $(WEB_SOURCES) $(NODE_STAMP)
	@echo "==> Member page bundle ($(WEB_DIR)/dist)"
	esbuild $(WEB_DIR)/js/main.js --bundle --minify --format=esm --target=es2020 \
		--outfile=$@ --log-level=warning
	@ls -l $(WEB_DIR)/dist/app.js $(WEB_DIR)/dist/app.css | awk '{print "    " $$5 " bytes  " $$9}'

web: $(WEB_BUNDLE)

toolchain: $(SOLC_BIN)
	@grep -qE '^\s+version:\s*$(SOLC_VERSION)\s*$$' brownie-config.yaml || { \
		echo "brownie-config.yaml must pin solc $(SOLC_VERSION), as package.json does" >&2; exit 1; }
	@$(SOLC_BIN) --version | grep -q "Version: $(SOLC_VERSION)+"

# The relayer loads the ABIs it calls from its package (src/relayer/abi, not in git), written
# here from the fresh build; the wheel's build backend writes them again (tools/packaging/).
compile: setup
	@echo "==> Compiling contracts"
	$(BIN)/brownie compile
	@echo "==> Contract ABIs for the relayer package (src/relayer/abi)"
	$(BIN)/python tools/packaging/abis.py

# The relayer as operators install it, without this checkout: the wheel (setuptools through
# tools/packaging/backend.py, which refuses to build without the ABIs and the page bundle) and
# the lock it installs with. tests/package/ builds one the same way and serves a union with it.
wheel: compile
	@echo "==> Wheel and relayer lock (dist/)"
	mkdir -p dist
	rm -f dist/data_union-*.whl
	$(BIN)/pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir dist .
	cp requirements.relayer.lock dist/
	@$(BIN)/python -m zipfile -l dist/data_union-*.whl | grep -E 'relayer/(abi|web)/' | \
		awk '{print "    " $$1}'
	@ls -l dist | awk 'NR > 1 {print "    " $$5 " bytes  dist/" $$9}'

# The relayer's own environment, without brownie: pyproject's [project].dependencies resolved in
# a clean venv at requirements.lock's versions (see tools/packaging/relayer_lock.py). Needs PyPI.
relayer-lock:
	@echo "==> Resolving requirements.relayer.lock"
	$(PYTHON) tools/packaging/relayer_lock.py

lint: $(PY_STAMP)
	@echo "==> ruff and mypy"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The relayer's database tests run on PostgreSQL too: Debian's server, started by the tests
# themselves. Installing it is best effort (root, a reachable mirror); without it those tests
# are skipped, and the run says so.
postgres:
	@if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then \
		echo "==> PostgreSQL server (Debian's postgresql)"; \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends postgresql; } || \
		echo "!!! WARNING: PostgreSQL could not be installed: the relayer's PostgreSQL" \
			"tests will be SKIPPED" >&2; \
	fi

# Fails on any high or medium finding that SECURITY.md does not explain, and when slither could
# not model a function of ours (it then silently skips the rest of that function's body).
slither: $(SLITHER_STAMP) $(NODE_STAMP) toolchain
	@echo "==> slither"
	mkdir -p reports
	for union in contracts/DataUnion.sol contracts/DataUnionRoots.sol; do \
		$(SLITHER_VENV)/bin/slither $$union --config-file slither.config.json --fail-medium \
			|| exit 1; \
	done 2>&1 | tee reports/slither.txt; test $${PIPESTATUS[0]} -eq 0
	@! grep 'Impossible to generate IR' reports/slither.txt | grep -v '(node_modules/'

# The member page's tests drive Debian's chromium (Playwright with its executable path; Playwright's
# own browser download is not reachable). Installing it is best effort; without it those tests are
# skipped, and the run says so.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "==> Chromium (Debian's chromium, for the member page's browser tests)"; \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends chromium; } || \
		echo "!!! WARNING: chromium could not be installed: the member page's browser tests" \
			"will be SKIPPED" >&2; \
	fi

test-contracts: compile postgres chromium
	@echo "==> Tests (FUZZ_STEPS=$(FUZZ_STEPS), SOAK_TRIALS=$(MAKE_TEST_SOAK_TRIALS))"
	SOAK_TRIALS=$(MAKE_TEST_SOAK_TRIALS) $(BIN)/brownie test

test: lint slither test-contracts

# The union and the relayer on a second EVM implementation (Hardhat Network from npm, interval
# mining). Also part of `make test` (it is under tests/); this runs it alone.
compat: compile
	@echo "==> Compatibility: Hardhat Network"
	$(BIN)/brownie test tests/compat

fuzz: FUZZ_STEPS = $(RELEASE_FUZZ_STEPS)
fuzz: ROOTS_FUZZ_STEPS = $(RELEASE_FUZZ_STEPS)
fuzz: compile
	$(BIN)/brownie test tests/contracts/test_invariants.py
	$(BIN)/brownie test tests/contracts/test_roots_invariants.py
	ROOTS_PROPERTY_EXAMPLES=$(RELEASE_ROOTS_PROPERTY_EXAMPLES) $(BIN)/brownie test tests/contracts/test_roots_pro_rata.py
	ATTRIBUTION_EXAMPLES=$(RELEASE_ATTRIBUTION_EXAMPLES) $(BIN)/brownie test tests/relayer/test_attribution_method.py

soak: compile postgres
	@echo "==> Replica soak: $(SOAK_TRIALS) trials"
	SOAK_TRIALS=$(SOAK_TRIALS) $(BIN)/brownie test tests/relayer/test_soak.py -s

bench: compile
	@echo "==> Relayer benchmarks (results in bench/results/relayer.md)"
	$(BIN)/python bench/relayer_bench.py

# Starts its own anvil; writes bench/results/gas.{md,json} and the claim-vs-members plot.
bench-gas: compile
	@echo "==> Gas benchmark"
	$(BIN)/python bench/gas.py

# Its own anvil (port 8545) and relayer (port 8000), fresh keys, outputs in demo-output/.
# Other ports: make demo DEMO_FLAGS="--port 8555 --relayer-port 8001" (0 = any free port).
DEMO_FLAGS ?=
demo: compile
	@echo "==> Demo: the data union end to end on a local chain"
	$(BIN)/python -m scripts.demo $(DEMO_FLAGS)

# The demo, then the chain and the relayer stay up for a wallet (Ctrl-C stops both).
serve: compile
	$(BIN)/python -m scripts.demo --serve $(DEMO_FLAGS)

# The stolen-key drill on its own anvil (a free port), outputs in drill-output/.
drill: compile
	@echo "==> Drill: a stolen attester key, the watcher's veto, the rotation"
	$(BIN)/python -m scripts.drill

# A draft of the next database revision from the difference between the models and the head:
# make revision MESSAGE="what changes". Read it and complete it (data moves) before committing.
revision: $(PY_STAMP)
	@test -n "$(MESSAGE)" || { echo 'usage: make revision MESSAGE="what changes"' >&2; exit 2; }
	$(BIN)/python -c 'import sys; from relayer.migrate import new_revision; print(new_revision(sys.argv[1]))' "$(MESSAGE)"

clean:
	rm -rf build reports .solcx .hypothesis .pytest_cache demo-output drill-output $(WEB_DIR)/dist \
		src/relayer/abi dist .wheel-build
