"""Load a page in headless Chromium over the DevTools protocol and report what it did.

A few lines of CDP over `--remote-debugging-pipe` (fds 3 and 4, NUL-terminated JSON): no
port, no extra package. Used by tests/test_html_browser.py (console errors, screenshots)
and benchmarks/bench_html.py (render time). As a script:

    python tools/headless.py page.html [--screenshot out.png]
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe")
# after both frames following `load` are painted: layout and paint are done
RENDERED = ("new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
            "() => r(performance.now()))))")


def find_chromium() -> str | None:
    """$GICMIG_CHROMIUM, else chromium (Debian), chromium-browser or google-chrome on PATH."""
    env = os.environ.get("GICMIG_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Load:
    """What one page load did."""

    errors: list[str] = field(default_factory=list)  # console errors, exceptions, CSP, network
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    load_ms: float = 0.0  # navigation start to the end of the load event
    rendered_ms: float = 0.0  # navigation start to two painted frames after load
    size: tuple[int, int] = (0, 0)  # CSS pixels of the whole page


class Browser:
    """One headless Chromium, one tab; `with Browser() as b: b.load(path)`."""

    def __init__(self, exe: str | None = None, width: int = 1600, height: int = 1200) -> None:
        exe = exe or find_chromium()
        if exe is None:
            raise FileNotFoundError("chromium is not installed")
        self._tmp = tempfile.mkdtemp(prefix="gicmig-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 64)
        high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 64)
        for fd in (to_child_r, from_child_w):
            os.close(fd)

        def wire() -> None:  # in the child: the protocol's fds 3 (in) and 4 (out)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._tmp}", f"--window-size={width},{height}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4, high_r, high_w), preexec_fn=wire)
        os.close(high_r)
        os.close(high_w)
        self._buf = b""
        self._id = 0
        self._events: list[dict[str, Any]] = []
        self.width, self.height = width, height
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                  flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)

    # --- protocol --------------------------------------------------------------------------
    def _send(self, method: str, params: dict[str, Any], session: bool) -> int:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self._session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._id

    def _next(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise ConnectionError("chromium closed the pipe")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        reply: dict[str, Any] = json.loads(raw)
        return reply

    def call(self, method: str, session: bool = False, timeout: float = 60,
             **params: Any) -> dict[str, Any]:
        want = self._send(method, params, session)
        while True:
            msg = self._next(timeout)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self._events.append(msg)

    def _wait_event(self, name: str, timeout: float = 60) -> dict[str, Any]:
        for i, ev in enumerate(self._events):
            if ev["method"] == name:
                return self._events.pop(i)
        while True:
            msg = self._next(timeout)
            if msg.get("method") == name:
                return msg
            if "method" in msg:
                self._events.append(msg)

    # --- pages -----------------------------------------------------------------------------
    def load(self, path: str | os.PathLike[str]) -> Load:
        """Open a file, wait until it is rendered; collect errors, requests and timings."""
        self._events.clear()
        url = Path(path).resolve().as_uri()
        self.call("Page.navigate", session=True, url=url)
        self._wait_event("Page.loadEventFired")
        rendered = self.evaluate(RENDERED)
        timing = self.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
        metrics = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        self.call("Runtime.evaluate", session=True, expression="0")  # flush pending events
        out = Load(rendered_ms=float(rendered), load_ms=float(json.loads(timing)["loadEventEnd"]),
                   size=(int(metrics["width"]), int(metrics["height"])))
        for ev in self._events:
            method, p = ev["method"], ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.errors.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.errors.append(f"console.{p['type']}: {p.get('args')}")
            elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.errors.append(f"{p['entry']['source']} {p['entry']['level']}: "
                                  f"{p['entry']['text']}")
            elif method == "Network.requestWillBeSent":
                out.requests.append(p["request"]["url"])
        return out

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", session=True, expression=expression,
                        awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, out: str | os.PathLike[str], *, height: int | None = None,
                   scale: float = 1.0) -> None:
        """A PNG of the page from its top: the whole page, or its first `height` pixels."""
        metrics = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        width = int(metrics["width"])
        full = int(metrics["height"])
        clip = {"x": 0, "y": 0, "width": width, "height": min(height or full, full),
                "scale": scale}
        data = self.call("Page.captureScreenshot", session=True, format="png",
                         captureBeyondViewport=True, clip=clip)["data"]
        Path(out).write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, ConnectionError, RuntimeError):
            self.call("Browser.close", timeout=10)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("page")
    p.add_argument("--screenshot", metavar="PNG")
    args = p.parse_args(argv)
    with Browser() as b:
        result = b.load(args.page)
        if args.screenshot:
            b.screenshot(args.screenshot)
    print(json.dumps(result.__dict__, indent=2))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
