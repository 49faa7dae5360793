"""An exported ONNX model's metadata, read and checked against its graph before any image is read.

The metadata (charset, preprocessing, decoder steps; export.py) is what the reader trusts to prepare images and
decode ids; a file whose metadata was edited, or copied from another export, would read every image wrong with
no error. So the graph's own facts are compared with it first: the input's shape (3, H, V·W) with the view size,
the outputs' length with ``max_len``, and, when the ``onnx`` package is installed to read the graph's weights,
the output layer's size with the charset's. Any disagreement is one :class:`DataError` line naming both sides.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..charset import Charset
from ..errors import DataError, one_line
from ..imaging.preprocess import ImageSpec

OUTPUT_LAYER = "model.out.bias"  # the classifier's bias in an exported greedy graph: one entry per class


def read_metadata(path: Path, session, meta: dict[str, str]) -> tuple[Charset, ImageSpec]:
    """The charset and preprocessing of an exported model, checked against its graph (see the module's note)."""
    try:
        charset = Charset.from_dict(json.loads(meta["charset"]))
        spec = ImageSpec.from_dict(json.loads(meta["preprocess"]))
        max_len = int(meta["max_len"]) if "max_len" in meta else None
    except DataError as e:
        raise DataError(f"{path}: damaged metadata ({e})") from None
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as e:
        raise DataError(f"{path}: damaged metadata ({type(e).__name__}: {one_line(e, 120)})") from None
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if "pixels" in inputs:
        check_pixels(path, inputs["pixels"], outputs, json.loads(meta["preprocess"]), spec)
    else:
        check_images(path, inputs, spec)
    for name in ("ids", "probs"):
        shape = outputs.get(name)
        if shape is None:
            raise DataError(f"{path}: the graph has no {name!r} output (found {sorted(outputs)})")
        if max_len is not None and len(shape) == 2 and isinstance(shape[1], int) and shape[1] != max_len:
            raise DataError(f"{path}: metadata says {max_len} decoder steps, the graph's {name} has {shape[1]}")
    classes = output_classes(path)
    # a model may pad its output layer to a fixed vocabulary (model.vocab_size: the reference's 10,000); a file from
    # before the metadata said so is taken at its word for any padding
    padded = int(meta["vocab_size"]) if meta.get("vocab_size", "").isdigit() else None
    if classes is not None and (classes != max(len(charset), padded) if padded is not None else classes < len(charset)):
        raise DataError(f"{path}: metadata has a charset of {len(charset)} tokens, the graph's output layer "
                        f"{classes} classes")
    return charset, spec


def check_images(path: Path, inputs: dict, spec: ImageSpec) -> None:
    """A graph of preprocessed images: its 'images' input (N, 3, H, V·W) agrees with the metadata's view size."""
    images = inputs.get("images")
    if images is None or len(images) != 4:
        raise DataError(f"{path}: the graph has no 4-D 'images' or 'pixels' input (found {sorted(inputs)})")
    if [d for d in images[1:] if isinstance(d, int)] != list(spec.shape):
        raise DataError(f"{path}: metadata says images of {spec.shape} ({spec.num_views} views of "
                        f"{spec.view_height}x{spec.view_width}), the graph takes {tuple(images[1:])}")


def check_pixels(path: Path, pixels: list, outputs: dict, preprocess: dict, spec: ImageSpec) -> None:
    """A graph that reads pixels: its 'pixels' input is (N, H, W, 3), the metadata says so, and its 'regions'
    output has one region per view of the metadata's."""
    if len(pixels) != 4 or pixels[3] != 3:
        raise DataError(f"{path}: the graph's 'pixels' input is {tuple(pixels)}, not (N, H, W, 3)")
    if "input" not in preprocess:
        raise DataError(f"{path}: metadata says the graph takes preprocessed images of {spec.shape}, the graph "
                        f"takes the images' pixels {tuple(pixels)}")
    regions = outputs.get("regions")
    if regions is None or len(regions) != 3:
        raise DataError(f"{path}: the graph reads pixels and has no 'regions' output (N, V, 4)")
    if isinstance(regions[1], int) and regions[1] != spec.num_views:
        raise DataError(f"{path}: metadata says {spec.num_views} views, the graph's regions have {regions[1]}")


def output_classes(path: Path) -> int | None:
    """The size of the graph's output layer, read from its weights with the ``onnx`` package; None without it (the
    torch-free ``seqocr[onnx]`` install) or when the graph has no layer of that name."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - ONNX Runtime has just read this file; onnx failing adds nothing to check
        return None
    found = [list(t.dims) for t in graph.initializer if t.name == OUTPUT_LAYER]
    return found[0][0] if found and len(found[0]) == 1 else None
