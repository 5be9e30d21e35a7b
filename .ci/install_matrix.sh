#!/usr/bin/env bash
# Install matrix: build the wheel and the sdist and check them, then install the core alone
# and each extra alone in a fresh virtual environment and run its smoke test (.ci/smoke.py).
#
#   PY=.venv/bin/python bash .ci/install_matrix.sh          # (make install-check)
#   EXTRAS="onnx http" bash .ci/install_matrix.sh            # the core and these extras
#   EXTRAS= bash .ci/install_matrix.sh                       # the core only
#
# Dependencies are collected once into a local wheel cache ($WHEELHOUSE, default
# .ci/wheelhouse); every environment then installs from it with --no-index, so the matrix
# downloads each package at most once. The core goes into a fresh environment; each extra
# gets a fresh environment of its own that sees the core environment's packages through a
# .pth file (so torch is unpacked once) and installs only that extra's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-python3}
EXTRAS=${EXTRAS-"onnx http images serve scan privacy optim ray keras keras-tf hf constrained malware"}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/advlab-install.XXXXXX")}
WHEELHOUSE=${WHEELHOUSE:-$ROOT/.ci/wheelhouse}
mkdir -p "$WORK" "$WHEELHOUSE"
start=$SECONDS
step() { echo "== $* ($((SECONDS - start)) s)"; }

step "build wheel and sdist"
rm -rf "$WORK/dist"
if "$PY" -c "import build" 2>/dev/null; then
  "$PY" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
else
  echo "python -m build is not installed: wheel only"
  "$PY" -m pip wheel -q --no-deps -w "$WORK/dist" .
fi
wheel=$(ls "$WORK"/dist/advlab-*.whl)
if "$PY" -c "import twine" 2>/dev/null; then
  "$PY" -m twine check --strict "$WORK"/dist/*
else
  echo "twine is not installed: package metadata not checked"
fi
"$PY" - "$WORK/dist" <<'PYEOF'
import sys, tarfile, zipfile
from pathlib import Path
dist = Path(sys.argv[1])
names = zipfile.ZipFile(next(dist.glob("*.whl"))).namelist()
for need in ("advlab/py.typed", "advlab/cli.py", "advlab/report/html.py"):
    assert need in names, f"wheel lacks {need}"
assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "wheel lacks LICENSE"
assert not any(n.startswith("tests/") for n in names), "wheel ships the tests"
for sdist in dist.glob("*.tar.gz"):
    members = tarfile.open(sdist).getnames()
    for need in ("LICENSE", "pyproject.toml", "src/advlab/py.typed"):
        assert any(m.endswith("/" + need) for m in members), f"sdist lacks {need}"
print(f"wheel and sdist contents ok ({len(names)} files in the wheel)")
PYEOF

all_extras=$(echo "$EXTRAS" | tr ' ' ',' | sed 's/^,*//; s/,*$//')
spec="$wheel${all_extras:+[$all_extras]}"
step "wheel cache: $spec"
"$PY" -m pip wheel -q -c constraints-cpu.txt -w "$WHEELHOUSE" "$spec" >"$WORK/wheels.log" 2>&1 \
  || { tail -30 "$WORK/wheels.log"; exit 1; }

site_packages() { "$1/bin/python" -c "import sysconfig; print(sysconfig.get_path('purelib'))"; }

smoke() {  # smoke NAME PIP-SPEC [BASE-VENV]
  local name=$1 pip_spec=$2 base=${3:-} venv="$WORK/venv-$1" run="$WORK/run-$1"
  step "install $name${base:+ on the core}: $pip_spec"
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  if [ -n "$base" ]; then site_packages "$base" >"$(site_packages "$venv")/_advlab_core.pth"; fi
  "$venv/bin/python" -m pip install -q --no-index --find-links "$WHEELHOUSE" \
    -c constraints-cpu.txt "$pip_spec" >"$WORK/pip-$name.log" 2>&1 || { tail -30 "$WORK/pip-$name.log"; exit 1; }
  mkdir -p "$run"
  (cd "$run" && OMP_NUM_THREADS=1 "$venv/bin/python" "$ROOT/.ci/smoke.py" "$name")
}

smoke core "$wheel"
for extra in $EXTRAS; do
  smoke "$extra" "$wheel[$extra]" "$WORK/venv-core"
  rm -rf "$WORK/venv-$extra"
done
rm -rf "$WORK/venv-core"
step "install matrix passed: core${EXTRAS:+ and }$EXTRAS"
