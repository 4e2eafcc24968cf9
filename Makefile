# Two commands do all the set-up on a fresh machine:
#   make run    installs into .venv, indexes seeds/, opens the chat on http://127.0.0.1:7860
#   make test   installs into .venv (with test extras, Chromium and PostgreSQL when possible), runs the tests
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run test browser postgres bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: a CPU wheel of 2.13.0 is served locally; anything else pulls CUDA builds.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/rag index seeds/
	$(BIN)/rag serve

# Debian's Chromium drives the real-browser test; without it that test skips with a reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "Could not install chromium: the browser test will be skipped."; \
	  else echo "chromium is not installed: the browser test will be skipped."; fi; }

# Debian's PostgreSQL backs the scale-out tests (each run starts its own throw-away cluster in a
# temporary folder, loopback only); without it those tests skip with a reason.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "Could not install postgresql: the PostgreSQL tests will be skipped."; \
	  else echo "PostgreSQL is not installed: the PostgreSQL tests will be skipped."; fi; }

# pytest exits 5 when it collects no tests; that is not a failure of the code.
test: install browser postgres
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

bench: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
