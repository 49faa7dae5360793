"""Starting ``seqocr serve`` in a child process on a free loopback port, for the soak (``benchmarks/soak.py``), the screenshots and
the service's end-to-end tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

# How long a child process may take to start (import torch, load a model): one generous figure for every test and
# script that starts one. Starts of 76-90 s were recorded on a loaded 2-core machine; a start that fails says why at
# once (the child exits), so a long limit costs nothing when things go right.
START_S = 240.0


def spawn(args: list[str], startup_s: float = START_S) -> tuple[subprocess.Popen, str]:
    """Start ``seqocr serve ARGS`` in a child process on a loopback port the system picks, learn the port from the
    line the service prints once bound, and wait until ``/healthz`` answers: ``(process, base URL)``. For load
    tests and end-to-end tests; terminate the process when done. Raises RuntimeError with the end of the server's
    stderr if it exits or does not answer in ``startup_s``."""
    url = None
    with tempfile.TemporaryFile() as err:  # the child keeps its own handle on it
        proc = subprocess.Popen([sys.executable, "-m", "seqocr", "serve", "--port", "0", *args],
                                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + startup_s
        while time.monotonic() < deadline and proc.poll() is None:
            url = url or listening_url(err)
            try:
                if url is not None:
                    with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                        if r.status == 200:
                            return proc, url
            except OSError:
                pass
            time.sleep(0.1)
        proc.kill()
        proc.wait()
        err.seek(0)
        raise RuntimeError(f"seqocr serve did not start{f' on {url}' if url else ''}: "
                           f"{err.read().decode(errors='replace')[-2000:]}")


def listening_url(err) -> str | None:
    """The address in the ``seqocr serve: listening on URL`` line of a server's stderr file, once it is there."""
    # pread, not seek and read: the child writes through the same open file, so moving its offset here would
    # make the child's next line overwrite the start of the file (seen on a slow machine: the line was lost).
    found = re.search(rb"^seqocr serve: listening on (http://\S+)$", os.pread(err.fileno(), 1 << 20, 0), re.MULTILINE)
    return found[1].decode() if found else None
