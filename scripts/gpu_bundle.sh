#!/usr/bin/env bash
# Prepare, here, the folder that scripts/gpu_train.sh needs on a machine that reaches no network (the lent GPU
# machine: Python 3.12, torch, Pillow, PyYAML, tqdm, tensorboard, safetensors, fonttools, protobuf, onnx and
# onnxruntime installed; faker, lmdb, google-crc32c, rapidfuzz and our fonts not).
#
#   bash scripts/gpu_bundle.sh [--out gpu-bundle] [--python-version 3.12]
#
# It writes OUT/wheels (manylinux x86-64 wheels of the missing libraries and what they need, and the rapidocr wheel
# whose ONNX file holds the pretrained backbone's weights) and OUT/fonts (the generator's 17 font files, copied out
# of their Debian packages). The fonts' licenses allow copying them with the software: DejaVu (Bitstream Vera
# license, free), Roboto and Open Sans (Apache-2.0), URW base35 (AGPL-3.0 with the font exception), Lato, Cantarell
# and Liberation (SIL Open Font License 1.1); each package's copyright file goes into OUT/fonts beside the fonts.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=gpu-bundle
PYVER=3.12
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --python-version) PYVER="$2"; shift 2 ;;
    *) echo "gpu_bundle: unknown option $1 (use --out DIR, --python-version X.Y)" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT/wheels" "$OUT/fonts"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
# The libraries with their own requirements (faker needs tzdata); pip resolves them for the target's Python.
"$PY" -m pip download -q --only-binary=:all: --python-version "$PYVER" --implementation cp "${platforms[@]}" \
  -d "$OUT/wheels" "faker>=40,<41" "lmdb>=1.4" "google-crc32c>=1.5" "rapidfuzz>=3.0"
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$OUT/wheels" "rapidocr==3.10.*"
# The fonts, from the paths seqocr.data.synth.FONTS names.
"$PY" - "$OUT/fonts" <<'PYEOF'
import shutil, sys
from pathlib import Path
from seqocr.data.synth import FONTS, font_paths

out = Path(sys.argv[1])
for font, path in zip(FONTS, font_paths()):
    shutil.copy2(path, out / path.name)
    copyright = Path("/usr/share/doc") / font.package / "copyright"
    if copyright.is_file():
        shutil.copy2(copyright, out / f"{font.package}.copyright")
PYEOF
du -sh "$OUT"
ls "$OUT/wheels" "$OUT/fonts"
