"""Writing files so that a crash never leaves a half-written one under the final name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (``.NAME.tmp``, same folder, so the rename is atomic) for the block to
    write; when the block completes it is renamed onto ``path``. If the block raises, the temporary file is
    removed and ``path`` is left as it was. A killed process can leave the temporary file, never a partial
    ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
