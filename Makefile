# vaults — two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGINS))
PLUGIN_PKGS := $(patsubst %/__init__.py,%,$(wildcard plugins/*/vaults_*/__init__.py))
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
DEMO_DB := .demo/demo.kdbx
DEMO_REF := keepass://Demo/Acme Cloud

.PHONY: demo test lint bench reliability clean help

help:
	@echo "make demo         run the offline KeePass demo (creates .venv with the runtime + KeePass plugin)"
	@echo "make test         install everything (venv, plugins, Bitwarden CLI) and run the tests"
	@echo "make lint         ruff check, ruff format --check, mypy --strict"
	@echo "make bench        run the benchmarks and print their tables"
	@echo "make reliability  leak, fuzz, fault and crash tests; writes docs/reliability.md"

$(PY):
	$(PYTHON) -m venv $(VENV)

# The demo needs only the runtime and the KeePass plugin; `make test` adds the test extras
# and the other plugins to the same venv. One setuptools in the venv instead of one isolated
# build environment per package, and bytecode compiled on first import: ~2x less CPU.
PIP_FAST := --quiet --disable-pip-version-check --no-compile
$(DEMO_STAMP): pyproject.toml plugins/keepass/pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FAST) 'setuptools>=68'
	$(PY) -m pip install $(PIP_FAST) --no-build-isolation -e . -e plugins/keepass
	touch $@

$(STAMP): pyproject.toml $(PLUGINS) | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' $(foreach p,$(PLUGIN_DIRS),-e '$(p)[test]')
	touch $@ $(DEMO_STAMP)

node_modules/.bin/bw: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Real OTP widgets (input-otp, Chakra UI, Ant Design, react-otp-input, Vue) from npm, bundled
# with esbuild into the browser tests' pages (tests/browser/widgets).
WIDGETS := tests/browser/widgets
$(WIDGETS)/dist/.built: $(WIDGETS)/package.json $(WIDGETS)/package-lock.json $(WIDGETS)/build.mjs $(wildcard $(WIDGETS)/src/*)
	cd $(WIDGETS) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

demo: $(DEMO_STAMP)
	@$(PY) -m vaults_keepass.demo $(DEMO_DB)
	@echo '$$ vaults resolve "$(DEMO_REF)"'
	@VAULTS_KEEPASS_DB=$(DEMO_DB) VAULTS_KEEPASS_PASSWORD=demo $(VENV)/bin/vaults resolve "$(DEMO_REF)"
	@echo
	@echo "Try it yourself: paste these lines into your shell."
	@echo '  export PATH="$(abspath $(VENV))/bin:$$PATH"'
	@echo '  export VAULTS_KEEPASS_DB="$(abspath $(DEMO_DB))" VAULTS_KEEPASS_PASSWORD=demo'
	@echo '  vaults resolve "$(DEMO_REF)" --json'

test: $(STAMP) node_modules/.bin/bw $(WIDGETS)/dist/.built
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check vaults $(PLUGIN_DIRS) tests bench
	$(VENV)/bin/ruff format --check vaults $(PLUGIN_DIRS) tests bench
	$(VENV)/bin/mypy --strict vaults $(PLUGIN_PKGS)

bench: $(STAMP) node_modules/.bin/bw $(WIDGETS)/dist/.built
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(PY) bench/run.py --record

reliability: $(STAMP) node_modules/.bin/bw
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(PY) tests/reliability/run.py

clean:
	rm -rf $(VENV) node_modules .demo build *.egg-info plugins/*/*.egg-info \
		$(WIDGETS)/node_modules $(WIDGETS)/dist
