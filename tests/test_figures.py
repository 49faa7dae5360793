"""Every figure in the README and docs/ comes from one place, and is checked here against it (issue 40): the model
card that scripts/ship_model.py writes, a JSON file that a benchmark script writes under benchmarks/, the configs
and constants the code runs with, or the record in BENCHMARKS.md of a study measured once. A figure copied by hand
fails here when its source changes, and a figure these checks do not know fails too
(test_every_figure_in_the_readme_and_docs_has_a_source): give it a claim below, or list it among the settings and
examples that are not measurements. Nothing here loads a model; the architectures' parameter counts build them
from their configs, without weights."""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "src" / "seqocr" / "resources" / "model"
NUM = r"(\d+(?:\.\d+)?)"  # a number, captured (a claim's pattern writes NUM for it)
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]


def flat(text: str) -> str:
    """A page with its line breaks and runs of spaces as single spaces: a figure's sentence may wrap anywhere."""
    return " ".join(text.split())


@cache
def page(name: str) -> str:
    return flat((ROOT / name).read_text(encoding="utf-8"))


def rounded(value: float | str, places: int) -> str:
    """``value`` to ``places`` decimals, halves up (the card's 0.0535 is the docs' 0.054, as a reader rounds)."""
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def percent(share: float | str) -> str:
    return rounded(Decimal(str(share)) * 100, 1) + " %"


def whole_percent(share: float) -> str:
    """A setting's share as the docs write it: 0.4 -> "40 %"."""
    return f"{round(share * 100)} %"


def speed(per_s: float) -> str:
    return rounded(per_s, 1 if per_s >= 1 else 2)


def json_file(name: str):
    return json.loads((ROOT / "benchmarks" / name).read_text(encoding="utf-8"))


def constant(module: str, name: str):
    """A module-level constant of ``src/seqocr/MODULE``, read from its source (no import: some need torch)."""
    tree = ast.parse((ROOT / "src" / "seqocr" / module).read_text(encoding="utf-8"))
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{module}: no {name}")


def benchmarks_section(heading: str) -> str:
    """The text of the BENCHMARKS.md section under the heading that contains ``heading`` (up to the next one)."""
    text = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    start = next(m.end() for m in re.finditer(r"^#+ .*$", text, re.MULTILINE) if heading in m.group())
    end = re.compile(r"^#+ ", re.MULTILINE).search(text, start)
    return flat(text[start:end.start() if end else len(text)])


# --- the sources -------------------------------------------------------------------------------------------------

@cache
def shipped_detector() -> int:
    """The parameters of the text detector inside the shipped model's file."""
    from seqocr.model import weights

    return sum(v.numel() for k, v in weights.read_any(weights.SHIPPED)["model"].items() if k.startswith("detector.")
               and not k.endswith(("running_mean", "running_var", "num_batches_tracked")))


@cache
def card() -> dict:
    """The model card's figures, as scripts/ship_model.py writes them."""
    text = (MODEL / "MODEL_CARD.md").read_text(encoding="utf-8")

    def measured(name: str) -> dict:
        row = re.search(rf"^\| {re.escape(name)} \| (\d+) \| {NUM} \| {NUM} \| {NUM} \|$", text, re.MULTILINE)
        return {"samples": int(row[1]), "exact": row[2], "chars": row[3], "cer": row[4]}

    readings = [{"image": m[1], "label": m[2], "read": m[3], "confidence": m[4]}
                for m in re.finditer(r"^\| (\d+\.png) \| (.+?) \| (.+?) \| (\d+(?:\.\d+)?) \|$", text, re.MULTILINE)]
    blank = re.search(r"Confidence on images without a sign: (.*)", text)[1]
    params = re.search(r"^\| parameters \| ([\d,]+), of which the pretrained backbone's ([\d,]+) \|$", text,
                       re.MULTILINE)
    return {"heldout": measured("generated held-out"), "real": measured("real FSNS samples"), "readings": readings,
            "ece_heldout": re.search(r"error on the generated held-out set: (\d+(?:\.\d+)?)", text)[1],
            "ece_real": re.search(r"error on the \d+ real FSNS samples: (\d+(?:\.\d+)?)", text)[1],
            "temperature": re.search(r"^Temperature (\d+(?:\.\d+)?) fitted", text, re.MULTILINE)[1],
            "blank": [float(x) for x in re.findall(r"\d+(?:\.\d+)?", blank)],
            "hours": re.search(r"^\| wall hours \| (\d+(?:\.\d+)?)", text, re.MULTILINE)[1],
            "threads": re.search(r"(\d+) training threads", text)[1],
            "parameters": int(params[1].replace(",", "")), "backbone": int(params[2].replace(",", ""))}


@cache
def shipped_config() -> dict:
    """The shipped file's config, from its safetensors header alone (no weights read)."""
    from safetensors import safe_open

    with safe_open(str(MODEL / "seqocr-default.safetensors"), "np") as f:
        return json.loads(f.metadata()["config"])


def wrong_reading() -> dict:
    wrong = [r for r in card()["readings"] if r["label"] != r["read"]]
    assert len(wrong) == 1, "the docs speak of one wrong real reading"
    return wrong[0]


def first_difference(label: str, read: str) -> tuple[str, str]:
    return next((a, b) for a, b in zip(read.split(), label.split()) if a != b)


def peers(system: str, set_name: str) -> dict:
    run = next(s for s in json_file("peers.json")["sets"] if s["name"] == set_name)
    return run["systems"][system]


def peer_version(system: str) -> str:
    config = peers(system, "heldout")["config"]
    full = config["version"].split()[-1] if system == "tesseract" else config["rapidocr"]
    return full.rsplit(".", 1)[0]


def generated_column(name: str) -> tuple[str, str]:
    """A generated column as the shipped file read it: BENCHMARKS.md, issue 22 session 19, the column
    "stage 16 shipped file" (session 20 reproduced it exactly)."""
    table = benchmarks_section("A typeface share (`data.synth_fonts`), its A/B and stage 16")
    row = re.search(rf"\| (?:\*\*)?{re.escape(name)}(?:\*\*)?(?: `[^`]*`)? \((\d+)\) \|"
                    r"([^|]*\|){3} \*\*(\d+)\*\* \|",
                    table)
    return row[3], row[1]


COLUMNS = {"extras": "secondary lines", "independent": "independent names", "small_names": "small first names",
           "clutter": "clutter", "numbers": "house-number plates", "few_views": "fewer than 4 views",
           "fonts": "unseen typefaces"}


@cache
def architectures() -> dict[str, tuple[int, int]]:
    """Each architecture's parameters (all, and those trained) as its config builds it, without weights."""
    from seqocr.config import load_config
    from seqocr.model import build_model, num_classes_for, parameter_count

    counts = {}
    for name in ("reference", "default", "vgg64"):
        cfg = load_config(ROOT / "configs" / f"{name}.yaml")
        model = build_model(cfg.model.replace(backbone_weights=""), num_classes_for(cfg.model, 136))
        counts[name] = (sum(p.numel() for p in model.parameters()), parameter_count(model))
    return counts


def config(name: str) -> dict:
    """A config as a run reads it: its bases merged in (``base:``), every key filled."""
    from seqocr.config import load_config

    return load_config(ROOT / "configs" / f"{name}.yaml").to_dict()


def plain(x: float) -> str:
    """A setting as the docs write it: 0.4 -> "40 %" is percent(); 0.01 -> "0.01"."""
    return format(x, "g")


def beam(width: int) -> tuple[str, ...]:
    """ONNX Runtime's greedy and beam readings of the same signs (benchmarks/beam.json; the script: 7bb0e95)."""
    runs = json_file("beam.json")["generated"]
    greedy, wide = runs["onnxruntime beam 1"], runs[f"onnxruntime beam {width}"]
    gain = (Decimal(str(wide["annotation_precision"])) - Decimal(str(greedy["annotation_precision"]))) * 100
    return (str(width), rounded(gain, 1), rounded(greedy["annotation_precision"], 3),
            rounded(wide["annotation_precision"], 3), rounded(wide["images_per_s"] / greedy["images_per_s"], 2))


def soak() -> tuple[str, ...]:
    """The 10-minute soak of the service (benchmarks/soak.json, benchmarks/soak.py)."""
    run = json_file("soak.json")
    return (str(run["soak"]["good_not_200"]), f"{run['soak']['good']:,}", str(round(run["soak_s"] / 60)),
            rounded(run["rate_rps"], 1), rounded(run["soak"]["p99_ms"], 0))


def generator_pace() -> tuple[str, ...]:
    """Generated signs per core (benchmarks/augment.jsonl)."""
    run = json.loads((ROOT / "benchmarks" / "augment.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    per_core = run["signs_per_s_per_core"]
    return str(per_core["device_worker"]), str(run["view"]), str(per_core["workers"])


def attention_kb() -> tuple[str]:
    """One character's attention map as the API sends it: V·R·W bytes in base64, for the memory the same page
    states (tests/test_readme.py ties that to the model)."""
    memory = re.search(r"\(the shipped model: (\d+) views × (\d+) rows × (\d+) columns", page("docs/service.md"))
    views, rows, columns = map(int, memory.groups())
    return (rounded(4 * -(-views * rows * columns // 3) / 1000, 1),)


def plain_set_views() -> tuple[str, str]:
    """The share of plain generated signs with fewer than 4 real views, and with 1 (the generator's weights)."""
    source = (ROOT / "src" / "seqocr" / "data" / "synth" / "__init__.py").read_text(encoding="utf-8")
    weights = [int(x) for x in re.search(r"choices\(\(0, 1, 2, 3\), weights=\((\d+), (\d+), (\d+), (\d+)\)\)",
                                         source).groups()]
    return f"{round(100 * sum(weights[1:]) / sum(weights))} %", f"{round(100 * weights[3] / sum(weights))} %"


def finetune() -> tuple[str, str, str]:
    train = config("finetune")["train"]
    return f"{train['lr']:.0e}".replace("e-04", "e-4"), str(train["warmup_steps"]), f"{train['steps']:,}"


def accents_table() -> str:
    """Issue 36's last columns table: the shipped reading at session 25's start against the accents restored."""
    return benchmarks_section("The columns (seed 1), the shipped reading at the session")


def hard_ece(column: str) -> str:
    """The ECE of the reading with the accents restored on one of that table's columns."""
    row = re.search(rf"\| `{column}` \(hard\) \| \d+ \| [^|]+ \| [*\d]+ \(ECE \**(\d\.\d+)\**\)", accents_table())
    return row[1]


# --- the claims --------------------------------------------------------------------------------------------------

class Claim(NamedTuple):
    """Figures on ``pages``: each match of ``pattern`` (on the flattened page) must give ``expect()``'s strings
    as its groups, or, where ``expect`` returns a callable, pass it."""
    name: str
    pages: tuple[str, ...]
    pattern: str
    expect: Callable[[], tuple | Callable[[tuple], bool]]


def n_of(share: str, n: int) -> str:
    return f"{round(Decimal(share) * n)} of {n}"


SPEED = "read-speed.json"
CLAIMS = [
    # what the shipped model reads: the model card
    Claim("the README's table: seqocr", ("README.md",),
          r"\| \*\*seqocr\*\*, shipped model, ONNX Runtime \(`seqocr read`\) "
          r"\| \*\*(\d+(?:\.\d+)? %)\*\* of ([\d,]+), NUM "
          r"\| \*\*(\d+ of \d+)\*\*, NUM \| \*\*NUM\*\* \| \*\*NUM\*\* \|",
          lambda: (percent(card()["heldout"]["exact"]), f"{card()['heldout']['samples']:,}",
                   rounded(card()["heldout"]["chars"], 3), n_of(card()["real"]["exact"], card()["real"]["samples"]),
                   rounded(card()["real"]["chars"], 3), rounded(json_file(SPEED)["signs_per_s"]["default"], 1),
                   re.search(r"\| reading speed, ONNX Runtime, batch 32, 2 cores \| [^|]+ \| \*\*(\d+(?:\.\d+)?)\*\*",
                             benchmarks_section("Where issue 22 closes"))[1])),
    Claim("the README's table: PyTorch", ("README.md",),
          r"\| seqocr, the same model in PyTorch \(`seqocr read --torch`\) \| (the same texts) \| the same texts "
          r"\| NUM \|",
          lambda: ("the same texts" if json_file(SPEED)["same_texts"] else "other texts",
                   rounded(json_file(SPEED)["signs_per_s"]["torch"], 1))),
    *[Claim(f"the README's table: {system}", ("README.md",),
            rf"\| {label} NUM \({extra}\) \| (\d+(?:\.\d+)? %) of (\d+), NUM \| (\d+ of \d+), NUM \| – "
            r"\| NUM \|",
            lambda system=system: (peer_version(system),
                                   percent(peers(system, "heldout")["metrics"]["annotation_precision"]),
                                   str(int(peers(system, "heldout")["metrics"]["samples"])),
                                   rounded(peers(system, "heldout")["metrics"]["character_precision"], 3),
                                   n_of(str(peers(system, "fsns-sample")["metrics"]["annotation_precision"]),
                                        int(peers(system, "fsns-sample")["metrics"]["samples"])),
                                   rounded(peers(system, "fsns-sample")["metrics"]["character_precision"], 3),
                                   speed(peers(system, "heldout")["images_per_s"])))
      for system, label, extra in (("tesseract", "Tesseract", "fra"), ("rapidocr", "RapidOCR", "PP-OCRv6"))],
    Claim("the wrong real reading", ("README.md", "docs/models.md"),
          r"sample (\d+)[:,] \"(\w+)\" for \"(\w+)\",? at confidence NUM",
          lambda: (Path(wrong_reading()["image"]).stem, *first_difference(wrong_reading()["label"],
                                                                             wrong_reading()["read"]),
                   rounded(wrong_reading()["confidence"], 2))),
    Claim("calibration error, the README", ("README.md",),
          r"the expected calibration error is NUM on the generated held-out signs and NUM on the real samples",
          lambda: (rounded(card()["ece_heldout"], 3), rounded(card()["ece_real"], 3))),
    Claim("calibration error, the docs", ("docs/models.md", "docs/metrics.md"),
          r"ECE NUM on the generated held-out signs,? (?:and )?NUM on the (\d+) real samples",
          lambda: (rounded(card()["ece_heldout"], 3), rounded(card()["ece_real"], 3), str(card()["real"]["samples"]))),
    Claim("temperature", ("docs/models.md", "docs/metrics.md"), r"temperature (\d\.\d+)",
          lambda: (card()["temperature"],)),
    Claim("what the shipped model reads, in docs/models.md", ("docs/models.md",),
          r"\(the card\): (\d+(?:\.\d+)? %) of ([\d,]+) unseen generated signs exactly \(character precision NUM\), "
          r"and (\d+) of the (\d+) real FSNS samples \(character precision NUM\), after NUM hours of "
          r"training on (\d+) CPU cores",
          lambda: (percent(card()["heldout"]["exact"]), f"{card()['heldout']['samples']:,}",
                   rounded(card()["heldout"]["chars"], 3), str(round(Decimal(card()["real"]["exact"]) *
                                                                   card()["real"]["samples"])),
                   str(card()["real"]["samples"]), rounded(card()["real"]["chars"], 3), rounded(card()["hours"], 1),
                   card()["threads"])),
    Claim("a blank image's confidence", ("docs/models.md",), r"a blank image scores under NUM",
          lambda: lambda groups: max(card()["blank"]) < float(groups[0])),
    Claim("confidences of the real readings", ("docs/reading.md",),
          r"generated held-out signs \(ECE NUM there\); on the (\d+) real FSNS samples its (\d+) correct "
          r"readings score NUM to NUM and its one wrong reading scores NUM \(sample (\d+), \"(\w+)\" "
          r"for \"(\w+)\"; ECE NUM there",
          lambda: (rounded(card()["ece_heldout"], 3), str(len(card()["readings"])),
                   str(sum(r["label"] == r["read"] for r in card()["readings"])),
                   rounded(min(Decimal(r["confidence"]) for r in card()["readings"] if r["label"] == r["read"]), 2),
                   rounded(max(Decimal(r["confidence"]) for r in card()["readings"] if r["label"] == r["read"]), 2),
                   rounded(wrong_reading()["confidence"], 2), Path(wrong_reading()["image"]).stem,
                   *first_difference(wrong_reading()["label"], wrong_reading()["read"]),
                   rounded(card()["ece_real"], 3))),
    Claim("the threshold that sets the wrong real reading aside", ("docs/reading.md",),
          r"so `--min-confidence NUM` would set the wrong one aside and keep every right one",
          lambda: lambda groups: (float(wrong_reading()["confidence"]) < float(groups[0]) <=
                                  min(float(r["confidence"]) for r in card()["readings"] if r["label"] == r["read"]))),
    Claim("the shipped model's parameters", ("docs/models.md",),
          r"a memory of \d+ views × \d+ rows × \d+ columns; ([\d,]+) parameters",
          lambda: (f"{card()['parameters']:,}",)),
    Claim("the shipped detector's parameters", ("docs/models.md",), r"its text detector's ([\d,]+) \(frozen\)",
          lambda: (f"{shipped_detector():,}",)),
    Claim("the shipped model's views", ("docs/models.md", "docs/reading.md"),
          r"less confident than NUM \(`model\.read_views: (\d+)`, `model\.reread_below: NUM`",
          lambda: (plain(shipped_config()["model"]["reread_below"]), str(shipped_config()["model"]["read_views"]),
                   plain(shipped_config()["model"]["reread_below"]))),
    *[Claim(f"the generated column {key}", ("docs/models.md",), rf"`{key}=1` \| (\d+) of (\d+) \|",
            lambda name=name: generated_column(name)) for key, name in COLUMNS.items()],
    # how fast: benchmarks/read-speed.json (benchmarks/bench_read_engines.py)
    Claim("the README's speed note", ("README.md",),
          r"\*\*Whole process\*\* means (\d+) generated signs read by one `seqocr read` command: .*? These are medians "
          r"of (\d+) runs, interleaved, on a (\d+)-core (AMD EPYC) .*?\(benchmarks/read-speed\.json\), "
          r"(\d{4}-\d\d-\d\d)\)\. `seqocr read` with no options took NUM s, `--onnx` NUM s and "
          r"`--torch` NUM s",
          lambda: (str(json_file(SPEED)["images"]), str(json_file(SPEED)["repeats"]),
                   str(json_file(SPEED)["machine"]["cores"]), json_file(SPEED)["machine"]["cpu"],
                   json_file(SPEED)["date"],
                   *(rounded(json_file(SPEED)["median_s"][k], 1) for k in ("default", "onnx", "torch")))),
    Claim("ONNX Runtime against PyTorch", ("docs/commands.md",),
          r"the same texts as PyTorch, NUMx as fast for a whole `seqocr read` of (\d+) signs",
          lambda: (rounded(json_file(SPEED)["torch_over_onnx"], 1), str(json_file(SPEED)["images"]))),
    # studies measured once: their JSON under benchmarks/, or their record in BENCHMARKS.md
    Claim("beam search", ("docs/reading.md",),
          r"beam (\d) read NUM points more generated signs exactly \(NUM -> NUM\) at NUMx greedy's "
          r"speed in ONNX Runtime",
          lambda: beam(3)),
    Claim("the soak", ("docs/service.md",),
          r"(\d+) of ([\d,]+) good requests failed in (\d+) minutes at NUM requests/s, p99 (\d+) ms",
          soak),
    Claim("the accents column", ("docs/reading.md",),
          r"it read (\d+) of (\d+) where the reading as painted read (\d+)",
          lambda: lambda g: f"| `accents` (hard) | {g[1]} | {g[2]} (ECE " in accents_table()
          and f"| **{g[0]}** (ECE" in accents_table()),
    Claim("the hard columns' calibration", ("docs/reading.md",),
          r"brought the ECE of three such columns of six under NUM \(legibility NUM, unaccented capitals NUM, "
          r"stickers NUM:",
          lambda: ("0.05", *(rounded(hard_ece(col), places) for col, places in
                             (("legibility", 3), ("accents", 2), ("sticker", 2))))),
    Claim("the wrong real reading before the power", ("docs/reading.md",), r"\(it scored NUM before;",
          lambda: lambda g: f"scored {g[0]} -> {rounded(wrong_reading()['confidence'], 2)} under the guided power"
          in benchmarks_section("Shipped, measured with the shipped files (session 25)")),
    Claim("the guided readings' power", ("docs/reading.md",), r"raised to a power \(NUM, fitted",
          lambda: (plain(constant("inference/decoding.py", "GUIDED_POWER")),)),
    Claim("the generator's pace", ("docs/training.md",),
          r"at NUM signs/s per core at (\d+)x\d+ views \(NUM with the augmentation in the workers",
          generator_pace),
    Claim("the step graph's size", ("docs/deployment.md",), r"`next.i`; (\d+(?:\.\d+)? MB) for the\s+shipped model\)",
          lambda: (f"{(ROOT / 'src/seqocr/resources/model/seqocr-default.step.onnx').stat().st_size / 1e6:.1f} MB",)),
    Claim("bf16 emulated", ("docs/training.md",), r"took (\d+(?:\.\d+)?x) as long as in fp32",
          lambda: lambda groups: f"({groups[0]})" in benchmarks_section("bf16 autocast on a CPU without bf16")),
    Claim("the crop's letters", ("docs/models.md",), r"about (\d+(?:\.\d+)?x) taller at (\d+(?:\.\d+)?x) the pixels",
          lambda: lambda groups: f"about {groups[0]} taller at {groups[1]} the pixels" in
          benchmarks_section("route (b), how much a crop")),
    # the attention maps' size, from the memory the same page states (tests/test_readme.py ties that to the model)
    Claim("the attention maps' size", ("docs/service.md",), r"about NUM kB of base64 a character",
          attention_kb),
    # the architectures, as their configs build them
    Claim("the architectures' parameters", ("docs/models.md",),
          r"\| parameters \| ([\d,]+) \| ([\d,]+) \(([\d,]+) trained\) \| ([\d,]+) \|",
          lambda: (f"{architectures()['reference'][0]:,}", f"{architectures()['default'][0]:,}",
                   f"{architectures()['default'][1]:,}", f"{architectures()['vgg64'][0]:,}")),
    Claim("the reference's published count", ("docs/models.md",),
          r"\(\+([\d,]+) parameters over the reference's ([\d,]+)\)",
          lambda: lambda groups: (int(groups[0].replace(",", "")) + int(groups[1].replace(",", ""))
                                  == architectures()["reference"][0])),
    # settings the code and configs run with
    Claim("the reference's vocabulary", ("docs/models.md",), r"\| output classes \| ([\d,]+) \(the reference's",
          lambda: (f"{config('reference')['model']['vocab_size']:,}",)),
    Claim("invented names", ("docs/models.md",), r"; (\d+ %) of generated names invented",
          lambda: (whole_percent(config("default")["data"]["synth_invented"]),)),
    Claim("the backbone's learning rate", ("docs/models.md",), r"`train\.backbone_lr_scale` \(NUM\) times",
          lambda: (plain(__import__("seqocr.config", fromlist=["TrainConfig"]).TrainConfig.backbone_lr_scale),)),
    Claim("the typeface share", ("docs/models.md",), r"trained on with (\d+ %) of the signs painted in",
          lambda: (whole_percent(config("shipped-stage16")["data"]["synth_fonts"]),)),
    Claim("the crop's margins", ("docs/models.md",), r"widened by (\d+ %) of the view sideways and (\d+ %) vertically",
          lambda: tuple(f"{round(m * 100)} %" for m in constant("imaging/textcrop.py", "MARGIN"))),
    Claim("PP-OCRv6's CTC head", ("docs/models.md",), r"The CTC head after it \(([\d,]+) classes\)",
          lambda: (f"{constant('model/ppocr_neck.py', 'CLASSES'):,}",)),
    Claim("the page's zip", ("docs/training.md",), r"up to ([\d,]+) images\)",
          lambda: (f"{constant('serve/app.py', 'MAX_DATASET_IMAGES'):,}",)),
    Claim("the skip threshold", ("docs/bad-input.md",), r"`data\.max_skip_fraction` \((\d+ %) by default\)",
          lambda: (whole_percent(__import__("seqocr.config", fromlist=["DataConfig"]).DataConfig.max_skip_fraction),)),
    Claim("fewer real views in the plain set", ("docs/data.md",),
          r"the plain set has (\d+ %) of such signs, (\d+ %) with a single view",
          plain_set_views),
    Claim("the fine-tune", ("docs/training.md",),
          r"learning rate ([\de.-]+), (\d+) warm-up steps then cosine decay over ([\d,]+) steps",
          finetune),
]


def matches(claim: Claim):
    pattern = re.compile(claim.pattern.replace("NUM", NUM))
    return [(name, m) for name in claim.pages for m in pattern.finditer(page(name))]


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.name for c in CLAIMS])
def test_each_figure_is_its_sources(claim: Claim):
    found = matches(claim)
    assert found, f"{claim.name}: no sentence of {claim.pages} says it any more (reworded? update the claim)"
    expected = claim.expect()
    for name, m in found:
        if callable(expected):
            assert expected(m.groups()), f"{name}: {m.group()!r} does not hold against its source"
        else:
            assert m.groups() == tuple(expected), f"{name}: {m.group()!r} says {m.groups()}, its source {expected}"


# A figure that is not a measurement: a version, a setting shown as an example, a value a user types.
NOT_MEASUREMENTS = [
    r"Apache-2\.0", r"Python 3\.12", r"`rapidocr` 3\.10 wheel", r"RapidOCR 3\.10 \(PP-OCRv6\) \| 6", r"Tesseract 5\.3",
    r"--min-confidence 0\.3 photos/", r"`model\.dropout: 1\.5`", r"--reread-below 0\.95", r"below 0\.95 \(0: never",
    r"train\.lr=0\.002", r"at x 0\.1 under L2-SP", r"`data\.synth_invented: 0\.4` \(or `synth:\.\.\.,invented=0\.4`\)",
    r"β 0\.5/0\.999", r"p = 0\.5",
]
FIGURE = re.compile(r"""(?x)
    \d+(?:\.\d+)?\s?%                                        # a share
  | (?<![\w.])\d+\.\d+(?![\w.])(?!x\d)                       # a decimal
  | (?<![\w.,])\d{1,3}(?:,\d{3})+(?!\d)                      # a count
  | (?<![\w.])\d+\ of\ (?:the\ )?\d+(?!\d)                   # n of m
  | (?<![\w.])\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?x(?![\w\d])    # a ratio
  | (?<![\w.])\d+(?:\.\d+)?\ (?:signs|images|requests)/s      # a speed
""")


def test_every_figure_in_the_readme_and_docs_has_a_source():
    covered: dict[str, list[tuple[int, int]]] = {name: [] for name in PAGES}
    for claim in CLAIMS:
        for name, m in matches(claim):
            covered[name] += [m.span(i) for i in range(1, (m.lastindex or 0) + 1)]
    for name in PAGES:
        for pattern in NOT_MEASUREMENTS:
            covered[name] += [m.span() for m in re.finditer(pattern, page(name))]
    def known(name: str, m: re.Match) -> bool:  # each number in the figure lies in a claim's group or a setting
        return all(any(a <= m.start() + n.start() and m.start() + n.end() <= b for a, b in covered[name])
                   for n in re.finditer(r"\d(?:[\d,.]*\d)?", m.group()))

    unknown = [f"{name}: {m.group()!r} in …{page(name)[max(0, m.start() - 50):m.end() + 20]}…"
               for name in PAGES for m in FIGURE.finditer(page(name)) if not known(name, m)]
    assert not unknown, "figures with no source (add a claim, or a setting to NOT_MEASUREMENTS):\n" + "\n".join(unknown)


def test_every_option_of_every_command_is_in_the_command_reference():
    """docs/commands.md lists each command's options under its heading (`seqocr COMMAND --help` is the source)."""
    from seqocr.cli import build_parser

    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    heading = re.compile(r"^## seqocr ([\w, ]+)\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    sections = {m[1]: m[2] for m in heading.finditer(text)}
    missing = []
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command, parser in commands.items():
        section = next((body for names, body in sections.items() if command in names.split(", ")), None)
        if section is None:
            missing.append(f"seqocr {command}: no section")
            continue
        options = [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
        missing += [f"seqocr {command} {o}" for o in options if f"`{o}" not in section]
    assert not missing, "options docs/commands.md does not list: " + ", ".join(missing)


def test_the_docs_links_lead_somewhere():
    broken = []
    for name in PAGES:
        text = (ROOT / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not target.startswith("http") and not ((ROOT / name).parent / target).exists():
                broken.append(f"{name}: {target}")
    assert not broken, broken


def test_the_readme_stays_short():
    """Issue 40's goal: a README you can scan, the rest in docs/."""
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250
