"""A small client for headless Chromium over the DevTools protocol, stdlib only, for the page's browser test
(tests/test_page.py) and the README's screenshots (scripts/screenshots.py).

Chromium is started with ``--remote-debugging-pipe``: it reads protocol messages (JSON, each ended by a NUL byte)
on its file descriptor 3 and writes its answers and events on 4. No port, no websocket library, no browser
download (Playwright and Selenium fetch their own browsers or drivers); Debian's ``chromium`` package is enough
(scripts/install_chromium.sh).

    with Browser.start() as browser:
        page = browser.new_page(1000, 700)
        page.goto("http://127.0.0.1:8000/")
        page.set_files("input[type=file]", ["sign.png"])
        page.wait_for("document.querySelector('.card[data-state=done]') !== null")
        png = page.screenshot()
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
INSTALLER = Path(__file__).resolve().parent / "install_chromium.sh"


class BrowserError(RuntimeError):
    pass


def find_chromium(install: bool = False) -> str:
    """The path of a Chromium binary; with ``install``, runs install_chromium.sh first if none is found. Raises
    BrowserError with the reason when there is none."""
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    if not install:
        raise BrowserError("no chromium binary on PATH (bash scripts/install_chromium.sh)")
    done = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise BrowserError(f"chromium could not be installed: {reason}")
    return done.stdout.strip().splitlines()[-1]


class Browser:
    """One headless Chromium process and its protocol pipe."""

    def __init__(self, proc: subprocess.Popen, to_browser, from_browser, profile: tempfile.TemporaryDirectory):
        self.proc, self.to_browser, self.from_browser, self.profile = proc, to_browser, from_browser, profile
        self.next_id, self.buffer, self.events = 0, b"", []

    @classmethod
    def start(cls, binary: str | None = None) -> Browser:
        binary = binary or find_chromium()
        profile = tempfile.TemporaryDirectory(prefix="seqocr-chromium-")
        to_child_r, to_child_w = os.pipe()    # we write, Chromium reads on its fd 3
        from_child_r, from_child_w = os.pipe()  # Chromium writes on its fd 4, we read

        def wire_fds():  # in the child, before exec: via fresh copies, in case a pipe end is itself fd 3 or 4
            read_end, write_end = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [binary, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--mute-audio",
                "--hide-scrollbars", f"--user-data-dir={profile.name}", "about:blank"]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, pass_fds=(3, 4),
                                preexec_fn=wire_fds)  # noqa: PLW1509 - only dup2 runs there
        os.close(to_child_r)
        os.close(from_child_w)
        return cls(proc, os.fdopen(to_child_w, "wb", buffering=0), os.fdopen(from_child_r, "rb", buffering=0),
                   profile)

    def __enter__(self):  # -> Self (typing.Self needs 3.11)
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.to_browser, self.from_browser):
            f.close()
        self.profile.cleanup()

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise BrowserError("no answer from chromium in time")
            ready, _, _ = select.select([self.from_browser], [], [], 0.2)
            if ready:
                chunk = self.from_browser.read(65536)
                if not chunk:
                    raise BrowserError("chromium closed its protocol pipe (did it crash?)")
                self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30
             ) -> dict:
        """Send one command and wait for its result (events that arrive meanwhile are kept in ``events``)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.to_browser.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            self.events.append(answer)

    def new_page(self, width: int = 1100, height: int = 800) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def call(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return self.browser.send(method, params, self.session, timeout)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        out = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in out:
            raise BrowserError(f"{expression[:60]}: {out['exceptionDetails'].get('text')} "
                               f"{out['exceptionDetails'].get('exception', {}).get('description', '')}")
        return out["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> object:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := self.evaluate(expression):
                return value
            time.sleep(0.1)
        raise BrowserError(f"timed out waiting for {expression}")

    def goto(self, url: str, timeout: float = 30) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", timeout)

    def set_files(self, selector: str, paths: list[str]) -> None:
        """Choose files in a file input, as a user would: its ``change`` event fires."""
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise BrowserError(f"no element matches {selector}")
        self.call("DOM.setFileInputFiles", {"nodeId": node, "files": [str(Path(p).resolve()) for p in paths]})

    def screenshot(self, full_page: bool = True) -> bytes:
        """A PNG of the page (all of it, not only the viewport, with ``full_page``)."""
        params: dict = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": metrics["width"],
                                                            "height": metrics["height"], "scale": 1})
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])
