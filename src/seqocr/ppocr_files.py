"""PP-OCRv6's ONNX files (Apache-2.0), as the rapidocr wheel installs them: the recognizer whose backbone the
default model reuses (:mod:`seqocr.model.ppocr`) and the text detector that crops views (:mod:`seqocr.imaging.textcrop`).

Only the files are needed, not rapidocr itself (which would need OpenCV): ``pip install --no-deps
"rapidocr==3.10.*"`` is enough, and the package is found without being imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import DataError

RECOGNIZER = "PP-OCRv6_rec_small.onnx"
DETECTOR = "PP-OCRv6_det_small.onnx"


def wheel_file(name: str, needed_for: str) -> Path:
    """``rapidocr/models/<name>`` of the installed wheel; a :class:`DataError` saying what ``needed_for`` it and
    how to install it when it is missing."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f'{needed_for} needs the rapidocr wheel: pip install --no-deps "rapidocr==3.10.*"')
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise DataError(f"{path}: missing from the installed rapidocr; install rapidocr 3.10")
    return path
