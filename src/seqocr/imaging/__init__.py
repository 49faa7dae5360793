"""The image preparation a model reads through: an image file to the model's input (:mod:`.preprocess`: views, their
size, the scaling), and the crop of each view to its text with PP-OCRv6's detector (:mod:`.textcrop`; the layout of
text lines, :mod:`.textlines`), as training's data workers and an ONNX file exported before the crop was in the graph
run it (the readers of a model that crops run the same rule inside it, :mod:`seqocr.model.pixels`). numpy and Pillow;
ONNX Runtime for the detector."""
