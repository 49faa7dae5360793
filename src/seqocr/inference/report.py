"""``seqocr eval --report DIR``: one self-contained HTML file (images embedded, no script, nothing fetched) that
shows an evaluation the way it is understood, from its failures: the metrics, a confidence-vs-accuracy plot
(SVG drawn here), the wrong readings grouped by kind (:mod:`.analysis`), the character confusions with counts,
and the worst readings first with their image, truth, reading, confidence and attention strip.

:class:`WorstReadings` is handed to the evaluation loop (``evaluate_reader(..., on_read=...)``) and keeps only the
``n`` worst readings and their images as they stream by, so memory does not grow with the dataset.
"""

from __future__ import annotations

import base64
import difflib
import heapq
import html
import io
import itertools
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image

from ..fsutil import atomic_write
from ..imaging.preprocess import ImageSpec
from .analysis import KIND_NAMES, Bin, badness, confusions, kinds_with_examples, reading_kind, reliability
from .attention import attention_strip, image_with_regions, side_by_side, stacked, views_of
from .postprocess import Reading

WORST = 50  # wrong readings shown with their images


class WorstReadings:
    """The ``n`` worst wrong readings seen (:func:`~.analysis.badness`), with their images."""

    def __init__(self, n: int = WORST):
        self.n, self.heap, self.order = n, [], itertools.count()

    def __call__(self, chunk: list, readings: list[Reading]) -> None:
        """One batch of the evaluation: ``(image, text, where)`` items and their readings."""
        for (image, text, where), r in zip(chunk, readings):
            if r.text == text:
                continue
            item = (badness(text, r.text, r.confidence), next(self.order), image, text, where, r)
            (heapq.heappush if len(self.heap) < self.n else heapq.heappushpop)(self.heap, item)

    def worst_first(self) -> list[tuple[Image.Image, str, str, Reading]]:
        return [(image, text, where, r) for _, _, image, text, where, r in sorted(self.heap, reverse=True)]


def embed(image: Image.Image) -> str:
    """A data: URL of ``image`` as JPEG (for photos: a tenth of PNG's size)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=82)
    return f"data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode()}"


def marked(truth: str, reading: str) -> tuple[str, str]:
    """HTML of both strings with the characters that differ marked (<del> in the truth, <ins> in the reading)."""
    a, b = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, truth, reading, autojunk=False).get_opcodes():
        t, r = html.escape(truth[i1:i2]), html.escape(reading[j1:j2])
        a.append(t if tag == "equal" or not t else f"<del>{t}</del>")
        b.append(r if tag == "equal" or not r else f"<ins>{r}</ins>")
    return "".join(a), "".join(b)


def reliability_svg(bins: list[Bin], width: int = 420, height: int = 320) -> str:
    """Accuracy against confidence: one bar per bin (its accuracy; darker with more readings), the diagonal
    of perfect calibration, and each bin's mean confidence as a dot; hand-drawn SVG."""
    left, bottom, top, right = 48, 40, 12, 12
    w, h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + v * w

    def y(v: float) -> float:
        return top + (1 - v) * h

    most = max((b.count for b in bins), default=0) or 1
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'viewBox="0 0 {width} {height}" role="img" aria-label="accuracy against confidence">'),
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#bbb"/>']
    for t in (0, 0.25, 0.5, 0.75, 1):
        parts += [f'<line x1="{x(0)}" y1="{y(t):.1f}" x2="{x(1)}" y2="{y(t):.1f}" stroke="#e4e4e4"/>',
                  f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>',
                  f'<text x="{x(t):.1f}" y="{top + h + 16}" text-anchor="middle">{t:g}</text>']
    for b in bins:
        if b.count:
            shade = 0.25 + 0.75 * b.count / most
            parts.append(f'<rect x="{x(b.low) + 1:.1f}" y="{y(b.accuracy):.1f}" width="{(b.high - b.low) * w - 2:.1f}"'
                         f' height="{y(0) - y(b.accuracy):.1f}" fill="#2f6fd0" fill-opacity="{shade:.2f}">'
                         f'<title>confidence {b.low:.1f}-{b.high:.1f}: {b.count} readings, accuracy '
                         f'{b.accuracy:.3f}, mean confidence {b.mean_confidence:.3f}</title></rect>')
            parts.append(f'<circle cx="{x(b.mean_confidence):.1f}" cy="{y(b.accuracy):.1f}" r="3" fill="#d0452f"/>')
            parts.append(f'<text x="{x((b.low + b.high) / 2):.1f}" y="{y(b.accuracy) - 5:.1f}" '
                         f'text-anchor="middle">{b.count}</text>')
    parts += [f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#888" stroke-dasharray="4 3"/>',
              f'<text x="{left + w / 2}" y="{height - 6}" text-anchor="middle">confidence</text>',
              f'<text transform="translate(13 {top + h / 2}) rotate(-90)" text-anchor="middle">exact match</text>',
              "</svg>"]
    return "\n".join(parts)


def metrics_table(metrics: dict) -> str:
    names = {"samples": "samples", "annotation_precision": "exact match (annotation precision)",
             "annotation_precision_std": "exact match, standardised", "character_precision": "character precision",
             "character_precision_std": "character precision, standardised", "cer": "character error rate",
             "one_minus_ned": "1 − normalised edit distance", "aocr_sequence_accuracy": "aocr sequence accuracy",
             "aocr_char_accuracy": "aocr character accuracy", "ece": "calibration error (ECE)",
             "unreadable": "unreadable images (not scored)", "min_confidence": "--min-confidence",
             "rejected": "rejected readings", "coverage": "coverage (share kept)",
             "kept_accuracy": "exact match of the kept"}
    rows = []
    for key, name in names.items():
        if key in metrics and metrics[key] is not None:
            v = metrics[key]
            value = f"{int(v)}" if key in ("samples", "unreadable", "rejected") else f"{v:.4f}"
            rows.append(f"<tr><th>{html.escape(name)}</th><td>{value}</td></tr>")
    return f"<table class='metrics'>{''.join(rows)}</table>"


def kinds_table(rows: list) -> str:
    pairs = [(gt, pred) for _, gt, pred, _ in rows]
    wrong = sum(gt != pred for gt, pred in pairs)
    if not wrong:
        return "<p>Every reading is exact.</p>"
    out = ["<table><tr><th>kind</th><th>readings</th><th>share of the wrong</th><th>examples (truth → reading)</th></tr>"]
    for kind, (n, examples) in kinds_with_examples(pairs).items():
        ex = "<br>".join("{} → {}".format(*marked(gt, pred)) for gt, pred in examples)
        out.append(f"<tr><td>{KIND_NAMES[kind]}</td><td>{n}</td><td>{n / wrong:.1%}</td><td>{ex}</td></tr>")
    return "".join(out) + "</table>"


def show(c: str) -> str:
    return "∅" if c == "" else "␣" if c == " " else html.escape(c)


def confusions_table(rows: list, top: int = 30) -> str:
    counts = confusions((gt, pred) for _, gt, pred, _ in rows)
    if not counts:
        return "<p>No character was confused.</p>"
    sorts = {"substituted": 0, "missing": 0, "extra": 0}
    for (t, r), n in counts.items():
        sorts["missing" if not r else "extra" if not t else "substituted"] += n
    head = ", ".join(f"{n} {sort}" for sort, n in sorts.items())
    cells = "".join(f"<span class='pair'><b>{show(t)}</b> → <b>{show(r)}</b> ×{n}</span>"
                    for (t, r), n in counts.most_common(top))
    more = f" The {top} most frequent, truth → read as:" if len(counts) > top else " Truth → read as:"
    return f"<p>Character edits from truth to reading: {head} (∅: none).{more}</p><div class='pairs'>{cells}</div>"


def worst_section(worst: WorstReadings, spec: ImageSpec) -> str:
    items = worst.worst_first()
    if not items:
        return "<p>No wrong reading.</p>"
    out = []
    for k, (image, text, where, r) in enumerate(items, 1):
        truth, reading = marked(text, r.text)
        views = side_by_side(views_of(image, spec, r.regions), 150)
        if r.regions is not None:  # the model cut its views itself: where, on the whole image, above them
            views = stacked(image_with_regions(image, r.regions, views.width), views)
        strip = attention_strip(image, r, spec, view_px=40, columns=5)
        strip_html = (f"<img class='strip' alt='attention of each character' src='{embed(strip)}'>" if strip
                      else "<p class='muted'>no attention maps (ONNX model, or no characters)</p>")
        out.append(f"<div class='worst'><p class='head'>#{k} · {html.escape(where)} · confidence "
                   f"{r.confidence:.3f} · {KIND_NAMES.get(reading_kind(text, r.text), '')}</p>"
                   f"<p>truth <span class='t'>{truth}</span><br>read <span class='t'>{reading or '∅'}</span></p>"
                   f"<img class='views' alt='the image' src='{embed(views)}'>{strip_html}</div>")
    return "".join(out)


STYLE = """body{font:14px/1.45 system-ui,"DejaVu Sans",sans-serif;color:#1d1d1f;max-width:1100px;margin:0 auto;
padding:16px 24px}h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border-bottom:1px solid #e4e4e4;padding:3px 10px;text-align:left;
vertical-align:top}.metrics th{font-weight:normal;color:#444}.char{font-size:17px;text-align:center}
del{background:#fde2e1;text-decoration:none;color:#a11}ins{background:#dff3df;text-decoration:none;color:#161}
.muted{color:#6e6e73}.worst{border:1px solid #ddd;border-radius:8px;padding:8px 12px;margin:10px 0}
.worst .head{color:#6e6e73;margin:0 0 4px}.t{font-size:17px}img.views{width:600px;max-width:100%;display:block}
img.strip{margin-top:6px;max-width:100%;display:block}svg text{font-size:11px;fill:#444}
.plot{display:flex;gap:24px;align-items:flex-start}.plot svg{flex:none}.pairs{display:flex;flex-wrap:wrap;gap:6px}
.pair{border:1px solid #ddd;border-radius:5px;padding:1px 8px}.pair b{font-size:16px;font-weight:600}"""


def write_report(folder: Path, metrics: dict, rows: list, worst: WorstReadings, spec: ImageSpec, source: str,
                 model: str) -> Path:
    """``folder/report.html`` from an evaluation's metrics, rows ``(where, truth, reading, confidence)`` and worst
    readings; written atomically. Returns its path."""
    bins = reliability([c for *_, c in rows], [gt == pred for _, gt, pred, _ in rows])
    shown = len(worst.heap)
    wrong = sum(gt != pred for _, gt, pred, _ in rows)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>seqocr evaluation: {html.escape(source)}</title>
<style>{STYLE}</style></head><body>
<h1>seqocr evaluation report</h1>
<p class="muted">data {html.escape(source)} · model {html.escape(model)} · {len(rows)} readings, {wrong} wrong · {when}</p>
<h2>Metrics</h2>{metrics_table(metrics)}
<h2>Confidence against accuracy</h2><div class="plot">{reliability_svg(bins)}
<p class="muted">Bars: the share of exact readings among those whose confidence falls in each tenth (the number
above: how many readings; darker: more). Dots: the bin's mean confidence. A calibrated model's bars reach the dashed
diagonal: its confidence is the chance that the reading is exact.</p></div>
<h2>Wrong readings by kind</h2>{kinds_table(rows)}
<h2>Character confusions</h2>{confusions_table(rows)}
<h2>Worst readings first</h2><p class="muted">{shown} of {wrong} wrong readings, the most wrong first (then the most
confident). Under each image: every character's attention over the views, with its probability.</p>
{worst_section(worst, spec)}
</body></html>
"""
    path = folder / "report.html"
    with atomic_write(path) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return path
