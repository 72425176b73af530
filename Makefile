# vaults — two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGINS))
PLUGIN_PKGS := $(patsubst %/__init__.py,%,$(wildcard plugins/*/vaults_*/__init__.py))
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench reliability clean help

help:
	@echo "make demo         run the offline KeePass demo (creates .venv on first use)"
	@echo "make test         install everything (venv, plugins, Bitwarden CLI) and run the tests"
	@echo "make lint         ruff check, ruff format --check, mypy --strict"
	@echo "make bench        run the benchmarks and print their tables"
	@echo "make reliability  leak, fuzz, fault and crash tests; writes docs/reliability.md"

$(STAMP): pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' $(foreach p,$(PLUGIN_DIRS),-e '$(p)[test]')
	touch $@

node_modules/.bin/bw: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Real OTP widgets (input-otp, Chakra UI, Ant Design, react-otp-input, Vue) from npm, bundled
# with esbuild into the browser tests' pages (tests/browser/widgets).
WIDGETS := tests/browser/widgets
$(WIDGETS)/dist/.built: $(WIDGETS)/package.json $(WIDGETS)/package-lock.json $(WIDGETS)/build.mjs $(wildcard $(WIDGETS)/src/*)
	cd $(WIDGETS) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

demo: $(STAMP)
	@$(PY) -m vaults_keepass.demo .demo/demo.kdbx
	@echo '$$ vaults resolve "keepass://Demo/Acme Cloud"'
	@VAULTS_KEEPASS_DB=.demo/demo.kdbx VAULTS_KEEPASS_PASSWORD=demo \
		$(VENV)/bin/vaults resolve "keepass://Demo/Acme Cloud"

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
