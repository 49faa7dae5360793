"""The layers hold (issue 25): read every import of src/seqocr (the standard library's ast, function-level imports
included) and check it against the layer order: Face (cli, serve, the package root's lazy API) over Train and
Inference, over Model and Data, over the pure base. Never upward, never Inference -> Train or Data."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "seqocr"
FACE = {"seqocr", "seqocr.cli", "seqocr.serve", "seqocr.__main__", "seqocr.predictor"}
# layer -> the layers it may import
ALLOWED = {
    "face": {"face", "train", "inference", "model", "data", "base"},
    "train": {"train", "inference", "model", "data", "base"},
    "inference": {"inference", "model", "base"},
    "model": {"model", "base"},
    "data": {"data", "base"},
    "base": {"base"},
}
# Known, to be removed by the work that owns them; a new violation fails.
KNOWN: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    if module in FACE or module.startswith(("seqocr.serve.", "seqocr.cli.")):
        return "face"
    top = module.split(".")[1]
    return {"train": "train", "inference": "inference", "model": "model", "data": "data"}.get(top, "base")


def imports(path: Path) -> set[str]:
    """The seqocr modules ``path`` imports, relative imports resolved (``from . import x`` names ``pkg.x``)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "seqocr"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "seqocr":
                continue
            found |= {target} if node.module else {f"{target}.{a.name}" for a in node.names}
    return found


def test_no_module_imports_a_layer_above_its_own():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        source = module_name(path)
        for target in imports(path):
            if target == "seqocr.version" or target.startswith("seqocr.__version__"):
                target = "seqocr.version"  # the version lives in the base layer
            if layer(target) not in ALLOWED[layer(source)] and (source, target) not in KNOWN:
                wrong.append(f"{source} ({layer(source)}) imports {target} ({layer(target)})")
    assert wrong == []


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another, directly or round a circle (Tarjan's strongly connected
    components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_circle():
    """No module of src/seqocr imports itself round a circle, function-level imports included: each concept has
    one home below the ones that use it."""
    modules = {module_name(p): p for p in SRC.rglob("*.py")}

    def home(target: str) -> str:  # "seqocr.data.sources.LabelsSource" -> "seqocr.data.sources"
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target

    graph = {m: {home(t) for t in imports(p)} - {m, ""} for m, p in modules.items()}
    assert import_cycles(graph) == []
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_checker_sees_relative_and_function_level_imports(tmp_path):
    """The reader itself: a relative import inside a function is found and resolved."""
    global SRC
    saved = SRC
    try:
        SRC = tmp_path / "seqocr"
        (SRC / "inference").mkdir(parents=True)
        (SRC / "inference" / "x.py").write_text("def f():\n    from ..data.synth import synth_sample\n")
        assert imports(SRC / "inference" / "x.py") == {"seqocr.data.synth"}
        assert layer("seqocr.data.synth") not in ALLOWED[layer("seqocr.inference.x")]
    finally:
        SRC = saved


ROOT = SRC.parents[1]
TOOLS = ("scripts", "benchmarks")  # the commands beside the package: production steps, then measurements


def test_no_file_over_400_lines_and_no_function_over_60():
    """The size rule for src/, scripts/ and benchmarks/: a file a newcomer can read through, functions that fit on
    a screen."""
    long_files, long_functions = [], []
    for path in sorted([*SRC.rglob("*.py"), *(p for tool in TOOLS for p in (ROOT / tool).glob("*.py"))]):
        text, name = path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        if len(text.splitlines()) > 400:
            long_files.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long_functions.append(f"{name}:{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert long_files == [] and long_functions == []


def test_the_tools_use_the_package_as_a_user_would():
    """scripts/ and benchmarks/ import no private name of seqocr and edit no sys.path (each runs as
    ``python -m scripts.NAME`` or ``python -m benchmarks.NAME`` from the repository, or as a file beside its
    siblings); scripts/ holds at most 15 files, the measurements living in benchmarks/ with their index."""
    found = []
    for path in sorted(p for tool in TOOLS for p in (ROOT / tool).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("seqocr"):
                found += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
                found.append(f"{path.name}:{node.lineno}: sys.path")
    assert found == []
    assert len([p for p in (ROOT / "scripts").iterdir() if p.name != "__pycache__"]) <= 15
    index = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert [p.name for p in (ROOT / "benchmarks").glob("*.py") if f"benchmarks.{p.stem}`" not in index] == []
