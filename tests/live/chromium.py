"""Headless Chromium driven over the DevTools protocol (websocket-client), for the browser test:
open a page, poll its DOM until a condition holds (never a fixed sleep), take a screenshot.
A fresh profile per browser; the flags are the ones that work in a container without a GPU,
a sandbox or outbound network."""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0")


def executable() -> str | None:
    """Chromium from $PLANO_CHROMIUM, PATH, or Debian's package."""
    for candidate in (os.environ.get("PLANO_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, binary: str, width: int = 1400, height: int = 900) -> None:
        self.binary, self.size = binary, (width, height)
        self._ids = itertools.count(1)

    def __enter__(self) -> Chromium:
        import websocket  # the `test` extra: websocket-client

        self.profile = tempfile.mkdtemp(prefix="plano-chromium-")
        self.log = open(Path(self.profile) / "chromium.log", "wb")
        self.proc = subprocess.Popen([self.binary, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        port_file = Path(self.profile) / "DevToolsActivePort"  # Chromium writes its port here
        end = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.__exit__(None, None, None)
                raise RuntimeError(f"Chromium did not open its DevTools port: {self._log_tail()}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t["type"] == "page"]
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1],
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc) -> None:
        if getattr(self, "ws", None):
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _log_tail(self) -> str:
        self.log.flush()
        text = (Path(self.profile) / "chromium.log").read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-5:])

    def call(self, method: str, **params: Any) -> dict:
        """One DevTools command; events that arrive meanwhile are dropped."""
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def open(self, url: str) -> None:
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"cannot open {url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}…: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, what: str, expression: str, ok: Callable[[Any], bool], deadline_s: float = 30.0) -> Any:
        """Evaluates `expression` in the page until ok(value), or fails with the last value."""
        end = time.monotonic() + deadline_s
        last: Any = None
        while True:
            try:
                last = self.evaluate(expression)
            except RuntimeError as err:  # the page is still loading
                last = err
            if not isinstance(last, Exception) and ok(last):
                return last
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {deadline_s:.0f}s waiting for {what}; last seen: {last!r}")
            time.sleep(0.25)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


# The rows of the Prometheus UI's table view (web/ui/mantine-ui DataTable): each row's cells' text.
TABLE_ROWS = ("Array.from(document.querySelectorAll('table tbody tr'))"
              ".map(tr => Array.from(tr.cells).map(td => td.innerText.trim()))")
