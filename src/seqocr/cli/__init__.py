"""The ``seqocr`` command line: train, eval, read, synth, pack, convert, export, serve, bench.

A user's mistake (a missing file, a bad image, an unknown config key) prints one ``seqocr: error: ...`` line
and exits 1; usage errors exit 2 (argparse). No tracebacks for either; a command whose optional dependencies are
not installed names the extra to install, in one line.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from PIL import Image

from ..errors import SeqocrError
from ..install import EXTRAS, install_hint
from . import data, exporting, lm, reading, serving, training


class _Parser(argparse.ArgumentParser):
    """A usage error in one line, naming the command and where its usage is (``seqocr read --help``): argparse's
    own prints the whole usage block first, which buries the line that says what is wrong."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Adds ``(default: X)`` to an option's help where it has a default worth showing and the help does not
    already say what happens by default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seqocr")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from .. import __version__

        return __version__



def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="seqocr", description=__doc__.splitlines()[0].replace("``", ""),
                                formatter_class=_HelpFormatter)
    p.add_argument("--version", action="version", version=f"seqocr {_version()}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=_HelpFormatter)

    # each module adds its commands and their options, in the order the help lists them
    for add in (training.add_train, reading.add, data.add, lm.add, serving.add, exporting.add,
                training.add_bench):
        add(command)
    return p


def _missing_extra(command: str, e: ModuleNotFoundError) -> str | None:
    """What to install for an optional dependency that is not installed; None for any other missing module."""
    module = (e.name or "").split(".")[0]
    if module not in EXTRAS:
        return None
    return f"seqocr {command} needs {module}, which is not installed: {install_hint(EXTRAS[module])}"


def _quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone (``seqocr read ... | head -1``), so that Python's own
    flush at exit finds no broken pipe to complain about."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # seqocr applies its own pixel limits (--max-pixels) to what it reads; Pillow's warning would only be noise
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a reader that has gone shows here, inside the try, not at exit
        return status
    except BrokenPipeError:  # the reader of stdout stopped early: normal for a Unix tool, nothing to report
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, the status of a tool that the closed pipe stopped
    except SeqocrError as e:
        print(f"seqocr: error: {e}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        if (missing := _missing_extra(args.command, e)) is None:
            raise
        print(f"seqocr: error: {missing}", file=sys.stderr)
        return 1
    except OSError as e:  # an output folder that cannot be written, a directory where a file goes, a full disk
        where = f"{e.filename}: " if e.filename else ""
        print(f"seqocr: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seqocr: interrupted", file=sys.stderr)
        return 130



if __name__ == "__main__":
    sys.exit(main())
