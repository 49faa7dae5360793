"""Write the fuzz targets' seed corpus (``tests/fuzz/corpus/TARGET/NAME``): small, real files of each kind, made
with seqocr's own writers, plus a few hand-made awkward cases the mutations could not easily reach (a valid
checksum over a huge declared length, an image header declaring 100,000 x 100,000 pixels, ...).

Usage: .venv/bin/python -m tests.fuzz.make_corpus   (rewrites the corpus; the result is committed)
"""

from __future__ import annotations

import base64
import io
import json
import struct
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"

from seqocr.charset import Charset
from seqocr.config import Config
from seqocr.data.tfrecord import frame, fsns_example, masked_crc
from tests.fuzz.targets import CHUNK, ENTRY_SEP, SET_MARK
from tests.helpers import png_header, tiny_model_config


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def images() -> dict[str, bytes]:
    rgb = Image.new("RGB", (32, 8), (250, 250, 250))
    rgb.paste((10, 20, 200), (4, 2, 28, 6))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.info["transparency"] = 0
    pixels = bytes(range(0, 256, 4)) * 4  # 256 bytes: 16 x 8 pixels of 16 bits
    return {
        "rgb.png": encoded(rgb, "PNG"), "palette-transparent.png": encoded(palette, "PNG"),
        "gray16.png": encoded(Image.frombytes("I;16", (16, 8), pixels), "PNG"),
        "rgba.png": encoded(rgb.convert("RGBA"), "PNG"), "la.png": encoded(rgb.convert("LA"), "PNG"),
        "rgb.jpg": encoded(rgb, "JPEG", quality=50), "cmyk.jpg": encoded(rgb.convert("CMYK"), "JPEG"),
        "gray.jpg": encoded(rgb.convert("L"), "JPEG"), "progressive.jpg": encoded(rgb, "JPEG", progressive=True),
        "anim.gif": encoded(palette, "GIF"), "rgb.bmp": encoded(rgb, "BMP"), "rgb.tiff": encoded(rgb, "TIFF"),
        "float.tiff": encoded(rgb.convert("F"), "TIFF"), "rgb.webp": encoded(rgb, "WEBP"),
        "huge-header.png": png_header(100_000, 100_000), "strip-4-views.png": encoded(Image.new("RGB", (64, 16)), "PNG"),
    }


def tfrecords(fsns: Charset) -> dict[str, bytes]:
    png = images()["rgb.png"]
    good = fsns_example(png, "Rue de la Paix", fsns) + b""
    two = frame(good) + frame(fsns_example(png, "Avenue Foch", fsns, orig_width=16))
    huge = struct.pack("<Q", 1 << 62)
    return {
        "two-records": two, "truncated": two[: len(two) - 7],
        "bad-payload-crc": two[:-1] + bytes([two[-1] ^ 1]),
        "huge-length": huge + struct.pack("<I", masked_crc(huge)) + b"\0" * 8,
        "empty-example": frame(b""), "not-an-example": frame(b"\x0a\x05hello"),
    }


def examples(fsns: Charset) -> dict[str, bytes]:
    png = images()["rgb.png"]
    return {"fsns": fsns_example(png, "Rue de la Paix", fsns),
            "fsns-one-view": fsns_example(png, "Quai d’Orsay", fsns, orig_width=8)}


def lmdbs() -> dict[str, bytes]:
    png = images()["rgb.png"]
    assert ENTRY_SEP not in png

    def db(*pairs: tuple[bytes, bytes]) -> bytes:
        return ENTRY_SEP.join(k + b"=" + v for k, v in pairs)

    ok = [(b"image-000000001", png), (b"label-000000001", "Rue Émile Zola".encode()),
          (b"image-000000002", images()["rgb.jpg"]), (b"label-000000002", b"Place Bellecour")]
    return {"two-samples": db((b"num-samples", b"2"), *ok), "huge-count": db((b"num-samples", b"99999999999"), *ok),
            "negative-count": db((b"num-samples", b"-3"), *ok), "no-count": db(*ok),
            "missing-image": db((b"num-samples", b"2"), *ok[1:]),
            "bad-label": db((b"num-samples", b"1"), (b"image-000000001", png), (b"label-000000001", b"\xff\xfe\x00"))}


def labels_files() -> dict[str, bytes]:
    return {"plain.tsv": b"a.png\tRue de la Paix\nbad.png\tAvenue Foch\nmissing.png\tPlace\n",
            "crlf-bom.tsv": "\ufeffa.png\tRue Émile Zola\r\na.png\tQuai d’Orsay\r\n".encode(),
            "latin1.tsv": "a.png\tRue Émile Zola\n".encode("latin-1"),
            "tabs-nul.tsv": b"a.png\tRue\tde\x00la Paix\n\n   \na.png\t\n/etc/passwd\tx\n",
            "utf16.tsv": "a.png\tRue\n".encode("utf-16")}


def configs() -> dict[str, bytes]:
    out = {p.name: p.read_bytes() for p in sorted((ROOT / "configs").glob("*.yaml"))[:4]}
    out["anchors.yaml"] = (b"base: &b {hidden: 32, dropout: 0.1}\nmodel: *b\ntrain: {steps: 10, lr: 1e-3}\n"
                           + SET_MARK + b"model.hidden=64\ntrain.betas=[0.9, 0.98]\ndata.charset=fsns\n")
    out["huge.yaml"] = b"model: {hidden: 100000000000000000000, temperature: 1e400}\n" + SET_MARK + b"train.lr=.nan\n"
    return out


def weights(tmp: Path) -> dict[str, bytes]:
    import torch

    from seqocr.model import build_model
    from seqocr.model.weights import export_weights
    from seqocr.train.checkpoint import save_checkpoint

    cfg = Config()
    cfg.model = tiny_model_config(max_len=8, channels=[4, 4, 4, 4], hidden=8)
    chars = Charset.parse("\n".join("abcde"))
    torch.manual_seed(0)
    save_checkpoint(tmp / "tiny.pt", cfg=cfg, charset=chars, model=build_model(cfg.model, len(chars)), step=1)
    export_weights(tmp / "tiny.pt", tmp / "tiny.safetensors")
    return {"tiny.pt": (tmp / "tiny.pt").read_bytes(), "tiny.safetensors": (tmp / "tiny.safetensors").read_bytes()}


def requests() -> dict[str, bytes]:
    png = images()["rgb.png"]

    def multipart(boundary: bytes, *parts: tuple[bytes, bytes]) -> bytes:
        body = b"".join(b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name
                        + b"\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n" + data + b"\r\n"
                        for name, data in parts)
        return body + b"--" + boundary + b"--\r\n"

    def request(content_type: bytes, body: bytes, *extra: bytes) -> bytes:
        head = [b"content-type: " + content_type, b"content-length: %d" % len(body), *extra]
        return b"\n".join(head) + b"\n\n" + body

    b64 = base64.b64encode(png)
    body = multipart(b"B", (b"images", png))
    chunked = CHUNK.join([body[:40], body[40:body.index(b"IHDR")], body[body.index(b"IHDR"):]])
    return {
        "multipart": request(b"multipart/form-data; boundary=XyZ", multipart(b"XyZ", (b"images", png))),
        "multipart-two-and-other": request(b"multipart/form-data; boundary=XyZ",
                                           multipart(b"XyZ", (b"images", png), (b"images", png), (b"other", b"1"))),
        "multipart-chunked": request(b"multipart/form-data; boundary=B", chunked),
        "json": request(b"application/json", json.dumps({"images": [b64.decode(), b64.decode()]}).encode()),
        "json-bad-base64": request(b"application/json", b'{"images": ["iVBOR=w0K"]}'),
        "text": request(b"text/plain", b"hello", b"content-length: x"),
    }


def main() -> None:
    fsns = Charset.fsns()
    with tempfile.TemporaryDirectory() as tmp:
        w = weights(Path(tmp))
    corpora = {"image": images(), "tfrecord": tfrecords(fsns), "tf_example": examples(fsns), "lmdb": lmdbs(),
               "labels": labels_files(), "labels_roundtrip": labels_files(), "config": configs(),
               "checkpoint": {"tiny.pt": w["tiny.pt"]}, "safetensors": {"tiny.safetensors": w["tiny.safetensors"]},
               "http": requests()}
    for target, files in corpora.items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"{sum(len(f) for f in corpora.values())} seed files, {total / 1024:.0f} KiB, in {CORPUS}")


if __name__ == "__main__":
    main()
