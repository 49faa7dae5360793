"""Reading images with a trained model: the reader base, the PyTorch :class:`Predictor`, the ONNX Runtime
reader, ONNX export, decoding and scoring. Nothing here imports :mod:`seqocr.train`."""
