# Two commands: `make demo` (set up + run the demo on embedded data) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint setup clean browser malware-toolchain

# The HTML report test drives headless Chromium (Debian's package; installed as root).
CHROMIUM ?= /usr/bin/chromium

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints-cpu.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/advlab demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

browser:
	@test -x $(CHROMIUM) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium; the HTML report test will fail"

# The malware corpus compiles harmless generated C programs with mingw-w64 (Debian's package).
MINGW ?= x86_64-w64-mingw32-gcc

malware-toolchain:
	@command -v $(MINGW) >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-mingw-w64-x86-64 >/dev/null) || echo "warning: could not install mingw-w64; the malware corpus falls back to synthetic variants"

test: $(STAMP) lint browser malware-toolchain
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .advlab-cache .pytest_cache .mypy_cache .ruff_cache
