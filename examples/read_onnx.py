"""Read signs with a seqocr ONNX file and nothing but onnxruntime, numpy and Pillow (no seqocr import): the proof
that the file stands alone. The graph takes the images' pixels and does everything else; its metadata holds the
charset (ids 0-2 are PAD, GO and EOS, characters follow in order).

    python examples/read_onnx.py src/seqocr/resources/model/seqocr-default.onnx IMAGE...   # IMAGE<TAB>TEXT a line
"""

import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

ort.set_default_logger_severity(3)  # errors only (not the note that an input with a default stays an input)
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
chars = json.loads(session.get_modelmeta().custom_metadata_map["charset"])["chars"]
for path in sys.argv[2:]:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)[None]  # (1, H, W, 3): any size
    ids = session.run(["ids"], {"pixels": pixels})[0][0].tolist()
    ids = ids[:ids.index(2)] if 2 in ids else ids  # up to EOS
    print(f"{path}\t" + "".join(chars[i - 3] for i in ids if 3 <= i < 3 + len(chars)))
