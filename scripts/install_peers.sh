#!/usr/bin/env bash
# Install the two peer OCR systems that benchmarks/bench_peers.py compares seqocr with.
#
#   * Tesseract: Debian's `tesseract-ocr` (5.3 on Debian 12) with its French data `tesseract-ocr-fra`
#     (the English `tesseract-ocr-eng` and script data `tesseract-ocr-osd` come with tesseract-ocr). It is called
#     through its command line (`tesseract LIST stdout -l fra --psm 6 tsv`, LIST a file of view images) with subprocess: no pytesseract needed.
#   * RapidOCR: the PyPI package `rapidocr` 3.10 with `onnxruntime`. Its wheel carries its default models
#     (PP-OCRv6 small multilingual detector and recogniser, which reads French accents, plus the PP-OCR mobile
#     angle classifier), so it works offline: nothing is downloaded at run time. The older
#     `rapidocr_onnxruntime` 1.4 also ships weights, but only Chinese/English PP-OCRv4 ones (no accented letters).
#     The pins live in pyproject.toml's `peers` extra (exact on rapidocr's minor version, because which models a
#     release puts in its wheel changes between releases); bench_peers.py checks that the model files it uses lie
#     inside the installed package.
#
# Idempotent: apt-get runs only when the `tesseract` command or its French data is missing, and pip only when
# rapidocr or onnxruntime cannot be imported from the venv. Needs root (or sudo) for apt-get; the dev machines and
# CI run as root on Debian 12.
#
# Usage: bash scripts/install_peers.sh [VENV]      (VENV defaults to .venv; `make peers` runs it)
set -euo pipefail

VENV=${1:-${VENV:-.venv}}
PY="$VENV/bin/python"
ROOT=$(cd "$(dirname "$0")/.." && pwd)

have_tesseract_fra() {
  command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx fra
}

if have_tesseract_fra; then
  echo "install_peers: tesseract with French data is installed ($(tesseract --version 2>&1 | head -n1))"
else
  echo "install_peers: installing tesseract-ocr tesseract-ocr-fra"
  # shellcheck source=scripts/apt_install.sh
  source "$(dirname "$0")/apt_install.sh"
  apt_install install_peers tesseract-ocr tesseract-ocr-fra
  if ! have_tesseract_fra; then
    echo "install_peers: tesseract or its French data still missing after apt-get install" >&2
    exit 1
  fi
  echo "install_peers: installed $(tesseract --version 2>&1 | head -n1)"
fi

if [ ! -x "$PY" ]; then
  echo "install_peers: $PY not found; create the venv first (make venv) or pass its folder" >&2
  exit 1
fi
if "$PY" -c "import rapidocr, onnxruntime" >/dev/null 2>&1; then
  echo "install_peers: rapidocr $("$PY" -c 'import importlib.metadata as m; print(m.version("rapidocr"))')" \
       "and onnxruntime $("$PY" -c 'import onnxruntime; print(onnxruntime.__version__)') are installed"
else
  echo "install_peers: pip installing seqocr's peers extra into $VENV"
  "$PY" -m pip install -q -e "$ROOT[torch,data,dev,peers]"
  "$PY" -c "import rapidocr, onnxruntime"
fi
echo "install_peers: done"
