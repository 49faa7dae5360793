"""seqocr side by side with the OCR systems a user could pick instead, on the same images: accuracy and images/s.

Peers (install them with ``bash scripts/install_peers.sh``):

* **Tesseract** 5 (Debian ``tesseract-ocr`` + ``tesseract-ocr-fra``), LSTM engine, French data, called through its
  command line (``tesseract LIST stdout -l fra --psm 6 tsv``);
* **RapidOCR** (PyPI ``rapidocr`` 3.10 + ``onnxruntime``), its default pipeline (DB text detector, angle classifier,
  PP-OCRv6 small multilingual recogniser) with the models its wheel carries: nothing is downloaded.

Protocol (the same images for every system; labels files of ``path<TAB>text`` lines, paths relative to the file):

1. **seqocr** reads each 600×150 image as it always does (4 views, one attention decoder), in batches of
   ``--batch-size`` (32), from the file path: decoding the PNG is part of its time.
2. **A peer sees one 150×150 view at a time.** Given the whole strip it would read the sign up to four times and
   interleave the copies, and neither peer has a way to fuse views. An image whose width is not about four times
   its height is given to the peers whole, as one view.
3. **One read per image**: each view's read (text lines + a confidence per line: RapidOCR's line scores,
   Tesseract's word confidences from its ``tsv`` output, character-weighted) is normalised into FSNS label style
   by :func:`peers.to_fsns_label` (title case, lowercase French particles, ``‘`` and ``—``, characters
   outside the FSNS charset dropped), and :func:`peers.pick_view` keeps one: by default ``vote``, the label
   read in most views, ties broken by Σ characters × confidence. The label normalisation is generous to the
   peers (seqocr emits labels directly and needs none of it).
4. **Tesseract settings that help it most**, chosen with ``--sweep`` on GENERATED signs only (``seqocr synth
   --split test --seed 11``, 64 images; scale 1/2/3/4 × psm 3/6/11 × colour/grey × min_conf 0/30/60/75 × the
   three view rules), never on the real FSNS samples: each view converted to greyscale
   and upscaled ``--tess-scale`` 3× (bicubic; Tesseract wants capitals ≥ 20-30 px high, a 150-px view's are
   ~10-15), page segmentation ``--psm 6`` (one uniform block of text), words with confidence below
   ``--tess-min-conf`` 60 dropped. That setting read 18.8 % of the 64 exactly (character precision 0.70) where
   Tesseract's defaults (colour, 1×, psm 3, no filter, same view rule) read 3.1 % (0.41). Tesseract runs
   ``--threads`` processes (default: one per core) with ``OMP_THREAD_LIMIT=1`` each, the setting Tesseract's
   authors recommend for throughput; each process reads a list file of up to ``--tess-chunk`` view files, so the
   French model is loaded once per process and chunk, not once per view.
5. **RapidOCR** is called once per view with its defaults (its detector already upscales small images), all
   cores for onnxruntime. ``vote`` was its best view rule too (generated, 24 images: 62.5 % exact; ``weight``
   54 %, ``mean`` 50 %).
6. **Timing**: each system end to end over the whole set, wall clock: reading the image files, its own
   preprocessing (cutting views, resizing, writing Tesseract's input files), inference, choosing the view and
   normalising. One-off model loading is excluded (seqocr's checkpoint, RapidOCR's sessions; a warm-up call of
   each runs first, untimed; Tesseract loads its model once per process and chunk: that cost is included, about
   0.1 s per chunk). Each system uses all cores (``--threads`` to pin: torch threads, onnxruntime intra-op threads,
   Tesseract processes). Run it on an otherwise idle machine.
7. **Accuracy**: :func:`seqocr.metrics.compute_metrics` (exact-match annotation precision and LCS character
   precision, raw and under the reference's standardisation, CER, ...), plus a case-insensitive exact match.
   Ground truths are put in the charset's canonical forms (``'`` -> ``‘``) first.

Usage:
    .venv/bin/python -m benchmarks.bench_peers --labels data/heldout/labels.tsv \\
        --labels ../shared/fsns-sample/labels.tsv [--checkpoint runs/default/last.pt] [--json OUT] [--limit N]
    .venv/bin/python -m benchmarks.bench_peers --sweep --labels GENERATED/labels.tsv --limit 24   # tuning table

Without ``--checkpoint`` the model shipped in the package is used (an error if this install has none).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from benchmarks.peers import PICK_RULES, ViewRead, merge_lines, parse_tesseract_tsv, pick_view, to_fsns_label
from seqocr.charset import Charset
from seqocr.data.labels import read_labels
from seqocr.errors import DataError
from seqocr.imaging.preprocess import load_image
from seqocr.metrics import compute_metrics

SYSTEMS = ("seqocr", "tesseract", "rapidocr")
NUM_VIEWS = 4


# ---------------------------------------------------------------------------------------------------- data
def load_set(labels: Path, limit: int | None, charset: Charset) -> tuple[list[Path], list[str]]:
    samples, report = read_labels(labels, charset, max_chars=1000)
    if report.skipped:
        print(f"bench_peers: {labels}: {report.summary()}", file=sys.stderr)
    samples = samples[:limit] if limit else samples
    return [s.path for s in samples], [charset.normalize(s.text) for s in samples]


def peer_views(img: Image.Image) -> list[Image.Image]:
    """The 4 square views of an FSNS strip, or the image itself when it is not a 4:1 strip."""
    w, h = img.size
    if abs(w / h - NUM_VIEWS) >= 0.5:
        return [img]
    tile = w / NUM_VIEWS
    return [img.crop((round(i * tile), 0, round((i + 1) * tile), h)) for i in range(NUM_VIEWS)]


@dataclass
class PeerResult:
    label: str
    view: int
    reads: list[ViewRead] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- systems
class SeqocrSystem:
    name = "seqocr"

    def __init__(self, checkpoint: str | None, batch_size: int):
        from seqocr.inference.predictor import Predictor

        self.predictor = Predictor.from_checkpoint(checkpoint)  # None: the shipped model
        self.batch_size = batch_size
        self.config = {"checkpoint": checkpoint or "shipped", "batch_size": batch_size}

    def warm_up(self, paths: Sequence[Path]) -> None:
        self.predictor.read(list(paths[:self.batch_size]), batch_size=self.batch_size)  # a full batch's shapes

    def read(self, paths: Sequence[Path]) -> list[PeerResult]:
        return [PeerResult(r.text, -1) for r in self.predictor.read(list(paths), batch_size=self.batch_size)]


class TesseractSystem:
    name = "tesseract"

    def __init__(self, scale: float = 3.0, psm: int = 6, min_conf: float = 60.0, lang: str = "fra",
                 jobs: int | None = None, chunk: int = 1024, pick: str = "vote", gray: bool = True):
        exe = shutil.which("tesseract")
        if exe is None:
            raise DataError("tesseract not found; run: bash scripts/install_peers.sh")
        langs = subprocess.run([exe, "--list-langs"], check=False, capture_output=True, text=True).stdout.split()
        if lang not in langs:
            raise DataError(f"tesseract has no {lang!r} data (has {', '.join(langs[1:]) or 'none'}); "
                            "run: bash scripts/install_peers.sh")
        self.exe, self.scale, self.psm, self.min_conf, self.lang = exe, scale, psm, min_conf, lang
        self.jobs, self.chunk, self.pick, self.gray = jobs or os.cpu_count() or 1, chunk, pick, gray
        version = subprocess.run([exe, "--version"], check=False, capture_output=True, text=True).stdout
        self.config = {"version": version.split("\n")[0].strip(), "lang": lang, "psm": psm, "scale": scale,
                       "min_conf": min_conf, "gray": gray, "jobs": self.jobs, "chunk": chunk, "pick": pick}

    def warm_up(self, paths: Sequence[Path]) -> None:
        self.read(paths[:1])  # brings the traineddata into the page cache

    def _prepare(self, img: Image.Image) -> list[Image.Image]:
        views = peer_views(img)
        if self.gray:
            views = [v.convert("L") for v in views]
        if self.scale != 1:
            views = [v.resize((round(v.width * self.scale), round(v.height * self.scale)),
                              Image.Resampling.BICUBIC) for v in views]
        return views

    def _run_lists(self, files: list[str], tmp: Path) -> list[str]:
        """Run ``jobs`` tesseract processes over contiguous slices of ``files``: one page's TSV rows per file."""
        per = -(-len(files) // self.jobs)
        slices = [files[i:i + per] for i in range(0, len(files), per)]
        procs = []
        for k, names in enumerate(slices):
            lst = tmp / f"list{k}.txt"
            lst.write_text("".join(f"{n}\n" for n in names))
            env = dict(os.environ, OMP_THREAD_LIMIT="1")
            procs.append(subprocess.Popen([self.exe, str(lst), "stdout", "-l", self.lang, "--psm", str(self.psm),
                                           "tsv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env))
        out: list[str] = []
        for names, p in zip(slices, procs):
            tsv, err = p.communicate()
            if p.returncode != 0:
                raise DataError(f"tesseract failed ({p.returncode}): {err.decode(errors='replace')[-300:]}")
            pages: dict[int, list[str]] = {}
            for row in tsv.decode("utf-8", errors="replace").splitlines():
                cols = row.split("\t")
                if len(cols) >= 12 and cols[1].isdigit():  # page_num; the header row has "page_num"
                    pages.setdefault(int(cols[1]), []).append(row)
            if sorted(pages) != list(range(1, len(names) + 1)):
                raise DataError(f"tesseract returned {len(pages)} pages for {len(names)} images")
            out += ["\n".join(pages[i + 1]) for i in range(len(names))]
        return out

    def read_tsv(self, paths: Sequence[Path]) -> list[list[str]]:
        """Tesseract's TSV rows for every view of every image."""
        out: list[list[str]] = []
        with tempfile.TemporaryDirectory(prefix="bench_peers_") as d:
            tmp = Path(d)
            for start in range(0, len(paths), self.chunk):
                files, counts = [], []
                for i, path in enumerate(paths[start:start + self.chunk], start):
                    views = self._prepare(load_image(path))
                    for v, view in enumerate(views):
                        name = str(tmp / f"{i:07d}_{v}.{'pgm' if self.gray else 'ppm'}")
                        view.save(name)  # uncompressed PNM: nothing to compress or decompress
                        files.append(name)
                    counts.append(len(views))
                tsvs = iter(self._run_lists(files, tmp))
                out += [[next(tsvs) for _ in range(n)] for n in counts]
        return out

    def read_views(self, paths: Sequence[Path], min_conf: float | None = None) -> list[list[ViewRead]]:
        """Every view's read of every image (no choice made)."""
        conf = self.min_conf if min_conf is None else min_conf
        return [[one_page(t, conf) for t in views] for views in self.read_tsv(paths)]

    def read(self, paths: Sequence[Path]) -> list[PeerResult]:
        return [choose(reads, self.pick) for reads in self.read_views(paths)]


class RapidOCRSystem:
    name = "rapidocr"

    def __init__(self, threads: int | None = None, pick: str = "vote"):
        try:
            from rapidocr import RapidOCR
        except ImportError:
            raise DataError("rapidocr is not installed; run: bash scripts/install_peers.sh") from None
        import rapidocr

        params = {"Global.log_level": "error"}  # not a warning per view with no text
        if threads:
            params.update({"EngineConfig.onnxruntime.intra_op_num_threads": threads,
                           "EngineConfig.onnxruntime.inter_op_num_threads": 1})
        self.engine = RapidOCR(params=params)
        self.pick = pick
        # Offline check: the models it loaded must be the ones inside the installed package.
        models = Path(rapidocr.__file__).parent / "models"
        shipped = sorted(p.name for p in models.glob("*.onnx"))
        self.config = {"rapidocr": importlib.metadata.version("rapidocr"),
                       "onnxruntime": importlib.metadata.version("onnxruntime"),
                       "models_in_wheel": shipped, "threads": threads or "all", "pick": pick}

    def warm_up(self, paths: Sequence[Path]) -> None:
        self.read(paths[:1])

    def read_views(self, paths: Sequence[Path]) -> list[list[ViewRead]]:
        import numpy as np

        out = []
        for path in paths:
            reads = []
            for view in peer_views(load_image(path)):
                r = self.engine(np.asarray(view))
                reads.append(merge_lines(zip(r.txts or (), r.scores or ())))
            out.append(reads)
        return out

    def read(self, paths: Sequence[Path]) -> list[PeerResult]:
        return [choose(reads, self.pick) for reads in self.read_views(paths)]


def one_page(tsv: str, min_conf: float) -> ViewRead:
    """The read of a one-page TSV (whatever its page number), empty if no word was kept."""
    return next(iter(parse_tesseract_tsv(tsv, min_conf).values()), ViewRead())


def choose(reads: list[ViewRead], rule: str) -> PeerResult:
    view, read = pick_view(reads, rule)
    return PeerResult(to_fsns_label(read.text), view, reads)


# ---------------------------------------------------------------------------------------------- scoring
def score(gts: Sequence[str], preds: Sequence[str]) -> dict[str, float]:
    m = compute_metrics(gts, preds)
    m["exact_casefold"] = sum(g.casefold() == p.casefold() for g, p in zip(gts, preds)) / max(len(gts), 1)
    return m


def timed(fn: Callable[[], list[PeerResult]]) -> tuple[list[PeerResult], float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


COLUMNS = (("annotation precision", "annotation_precision"), ("ann. prec. (std)", "annotation_precision_std"),
           ("exact, any case", "exact_casefold"), ("character precision", "character_precision"),
           ("char. prec. (std)", "character_precision_std"), ("CER", "cer"))


def markdown_table(sets: list[dict]) -> str:
    head = ["labels", "system", "images", *(c for c, _ in COLUMNS), "images/s"]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for s in sets:
        for name, r in s["systems"].items():
            cells = [s["name"], name, str(s["images"]), *(f"{r['metrics'][k]:.3f}" for _, k in COLUMNS),
                     f"{r['images_per_s']:.2f}"]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------- sweep
def sweep(labels: list[Path], limit: int | None, charset: Charset, threads: int | None, systems: list[str]) -> None:
    """Accuracy of peer settings on GENERATED images (the protocol's choices): a table, best first."""
    print("bench_peers: sweep; use generated signs only, never the real FSNS samples", file=sys.stderr)
    paths, gts = [], []
    for lab in labels:
        p, g = load_set(lab, limit, charset)
        paths += p
        gts += g
    rows = []

    def add(system: str, setting: str, views: list[list[ViewRead]]) -> None:
        for rule in PICK_RULES:
            preds = [choose(r, rule).label for r in views]
            m = score(gts, preds)
            rows.append((m["annotation_precision"], m["character_precision"], system, f"{setting} pick={rule}"))

    grid = itertools.product((1, 2, 3, 4), (3, 6, 11), (False, True)) if "tesseract" in systems else ()
    for scale, psm, gray in grid:
        t = TesseractSystem(scale=scale, psm=psm, jobs=threads, gray=gray)
        tsvs, secs = timed(lambda t=t: t.read_tsv(paths))
        for min_conf in (0, 30, 60, 75):
            views = [[one_page(x, min_conf) for x in v] for v in tsvs]
            add("tesseract", f"scale={scale} psm={psm} gray={int(gray)} min_conf={min_conf} ({secs:.1f}s)", views)
    if "rapidocr" in systems:
        r = RapidOCRSystem(threads=threads)
        views, secs = timed(lambda: r.read_views(paths))
        add("rapidocr", f"defaults ({secs:.1f}s)", views)
    print(f"{len(paths)} images\n| system | setting | annotation precision | character precision |\n|---|---|---|---|")
    for ap, cp, system, setting in sorted(rows, key=lambda r: (r[2], -r[0], -r[1])):
        print(f"| {system} | {setting} | {ap:.3f} | {cp:.3f} |")


# ---------------------------------------------------------------------------------------------- main
def read_set(lab: Path, paths: list[Path], gts: list[str], runners: list) -> dict:
    """One labels file read by every system: metrics, time and every prediction."""
    entry = {"name": lab.parent.name or str(lab), "labels": str(lab), "images": len(paths), "systems": {}}
    for r in runners:
        results, secs = timed(lambda r=r, paths=paths: r.read(paths))
        preds = [x.label for x in results]
        entry["systems"][r.name] = {
            "metrics": score(gts, preds), "seconds": secs, "images_per_s": len(paths) / secs, "config": r.config,
            "predictions": [{"image": str(p), "ground_truth": g, "prediction": x.label, "view": x.view,
                             "raw": [v.text for v in x.reads]} for p, g, x in zip(paths, gts, results)]}
        print(f"bench_peers: {entry['name']}: {r.name}: {len(paths)} images in {secs:.2f} s", file=sys.stderr)
    return entry


def runner(name: str, args: argparse.Namespace):
    """The system ``name`` set up from the command line's options."""
    if name == "seqocr":
        return SeqocrSystem(args.checkpoint, args.batch_size)
    if name == "tesseract":
        return TesseractSystem(args.tess_scale, args.tess_psm, args.tess_min_conf, jobs=args.threads,
                               chunk=args.tess_chunk, pick=args.pick, gray=not args.tess_color)
    return RapidOCRSystem(args.threads, args.pick)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", action="append", required=True, type=Path, help="path<TAB>text file (repeatable)")
    ap.add_argument("--checkpoint", help="seqocr checkpoint (.pt) or weights (.safetensors); default: shipped")
    ap.add_argument("--json", type=Path, help="write the results (and every prediction) here")
    ap.add_argument("--limit", type=int, help="first N images of each labels file")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    ap.add_argument("--batch-size", type=int, default=32, help="seqocr's batch size (32)")
    ap.add_argument("--threads", type=int, help="threads per system (default: all cores)")
    ap.add_argument("--pick", choices=PICK_RULES, default="vote", help="peers' view choice (vote)")
    ap.add_argument("--tess-scale", type=float, default=3.0, help="upscale each view for Tesseract (3)")
    ap.add_argument("--tess-psm", type=int, default=6, help="Tesseract page segmentation mode (6)")
    ap.add_argument("--tess-min-conf", type=float, default=60.0, help="drop Tesseract words below this (60)")
    ap.add_argument("--tess-color", action="store_true", help="give Tesseract colour views (default: greyscale)")
    ap.add_argument("--tess-chunk", type=int, default=1024, help="view files per Tesseract process (1024)")
    ap.add_argument("--sweep", action="store_true", help="tune peers' settings (GENERATED images only)")
    args = ap.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        ap.error(f"unknown system(s) {', '.join(unknown)}; expected {', '.join(SYSTEMS)}")
    charset = Charset.fsns()
    try:
        if args.sweep:
            sweep(args.labels, args.limit, charset, args.threads, systems)
            return 0
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        data = [(lab, *load_set(lab, args.limit, charset)) for lab in args.labels]
        runners = [runner(name, args) for name in systems]
        for r in runners:
            r.warm_up(data[0][1])
        sets = [read_set(lab, paths, gts, runners) for lab, paths, gts in data]
    except DataError as e:
        print(f"bench_peers: error: {e}", file=sys.stderr)
        return 1
    print(markdown_table(sets))
    if args.json:
        env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
               "threads": args.threads or "all", "seqocr": importlib.metadata.version("seqocr")}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"env": env, "sets": sets}, ensure_ascii=False, indent=1) + "\n",
                             encoding="utf-8")
        print(f"bench_peers: wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
