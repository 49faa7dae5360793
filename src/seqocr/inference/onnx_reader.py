"""Reading with an exported ONNX model and ONNX Runtime, without torch (``pip install seqocr[onnx]``).

The .onnx file alone is enough: the charset and the preprocessing come from its metadata (see export.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..charset import Charset
from ..errors import ConfigError, DataError, SeqocrError
from ..preprocess import ImageSpec
from .postprocess import Reading, decode_batch
from .reader import Reader

ATTENTION_NEEDS_TORCH = ("attention maps come from the PyTorch reader only (the ONNX model outputs ids and "
                         "probabilities); read without --onnx")


class OnnxReader(Reader):
    def __init__(self, path: str | Path, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise SeqocrError("onnxruntime is not installed: pip install 'seqocr[onnx]'") from None
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: ONNX model not found")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own untyped errors for bad files
            raise DataError(f"{path}: not a readable ONNX model ({type(e).__name__})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "charset" not in meta or "preprocess" not in meta:
            raise DataError(f"{path}: an ONNX model without seqocr metadata (charset, preprocess)")
        self.charset = Charset.from_dict(json.loads(meta["charset"]))
        self.spec = ImageSpec.from_dict(json.loads(meta["preprocess"]))
        self.metadata = meta

    def read_arrays(self, batch: np.ndarray, attention: bool = False) -> list[Reading]:
        if attention:  # the exported greedy graph outputs ids and probs only (export.py)
            raise ConfigError(ATTENTION_NEEDS_TORCH)
        ids, probs = self.session.run(["ids", "probs"], {"images": batch.astype(np.float32)})
        return decode_batch(ids, probs, self.charset)
