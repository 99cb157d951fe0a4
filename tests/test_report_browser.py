"""The report in a real browser: headless Chromium (Debian package ``chromium``).

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe`` (file descriptors
3 and 4, messages separated by NUL), so no extra Python package is needed. The browser runs with a
fresh profile and a proxy that points at a closed local port, so nothing could leave the machine;
every request the page makes is recorded (``Network.requestWillBeSent``) and must be ``file:`` or
``data:``. Console messages, uncaught exceptions and browser log errors must be empty; every
section of a full audit must be laid out and visible; every picture must decode; a full-page
screenshot is written.

Control pages prove the checks can fail: a page with a remote image and a console error is caught.
"""
from __future__ import annotations

import base64
import json
import os
import select
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from reports.render import render_report
from sample_run import make_sample_run

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="headless Chromium not installed (/usr/bin/chromium); "
                              "install the Debian package: apt-get install -y chromium"),
]


def _closed_port() -> int:
    """A local TCP port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """Headless Chromium over the DevTools pipe: launch, one page, send commands, collect events."""

    def __init__(self, profile: Path):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def child_fds():
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--disable-default-apps",
                "--hide-scrollbars", "--mute-audio", f"--user-data-dir={profile}",
                f"--proxy-server=127.0.0.1:{_closed_port()}", "--proxy-bypass-list=<-loopback>",
                "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, pass_fds=(3, 4, to_chrome_r, from_chrome_w),
                                     preexec_fn=child_fds, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", page=True)

    def _recv(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed the DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg = json.loads(raw)
        if "method" in msg:
            self.events.append(msg)
        return msg

    def send(self, method: str, params: dict | None = None, *, page: bool = False, timeout: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if page:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._recv(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_for(self, event: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for e in self.events:
            if e["method"] == event:
                return e
        while True:
            msg = self._recv(deadline)
            if msg.get("method") == event:
                return msg

    def evaluate(self, expression: str, *, wait: bool = False):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": wait}, page=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def open(self, path: Path, *, width: int = 1280) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, page=True)
        self.events.clear()
        self.send("Page.navigate", {"url": path.resolve().as_uri()}, page=True)
        self.wait_for("Page.loadEventFired")
        # Let late console messages and failed loads arrive.
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 200)))", wait=True)

    def problems(self) -> dict[str, list[str]]:
        """Console messages, exceptions, log errors and non-local requests seen since ``open``."""
        out: dict[str, list[str]] = {"console": [], "exceptions": [], "log": [], "requests": []}
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled":
                out["console"].append(f"{p.get('type')}: {[a.get('value') for a in p.get('args', [])]}")
            elif e["method"] == "Runtime.exceptionThrown":
                out["exceptions"].append(json.dumps(p.get("exceptionDetails", {}))[:300])
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                out["log"].append(f"{p['entry'].get('source')}: {p['entry'].get('text')}")
            elif e["method"] == "Network.requestWillBeSent":
                url = p["request"]["url"]
                if not url.startswith(("data:", "file:")):
                    out["requests"].append(url)
        return out

    def screenshot(self, path: Path) -> tuple[int, int]:
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                         page=True, timeout=120)
        data = base64.b64decode(shot["data"])
        path.write_bytes(data)
        width, height = struct.unpack(">II", data[16:24])
        return width, height

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, EOFError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_browser")
    make_sample_run(out, n=160, n_boot=50, severities=(1, 3, 5), hostile=True, comparison=True, seed=2)
    render_report(out, strict=True)
    return out


SECTIONS = ("summary", "dataset", "performance", "thresholds", "robustness", "gradcam", "misclassified",
            "comparison", "methods")


def test_report_loads_clean_offline_and_shows_every_section(browser, full_run, tmp_path):
    browser.open(full_run / "report.html")
    assert browser.problems() == {"console": [], "exceptions": [], "log": [], "requests": []}
    visible = browser.evaluate("""
        Array.from(document.querySelectorAll('section.block')).map(s => {
          const r = s.getBoundingClientRect(), st = getComputedStyle(s);
          return [s.id, r.width > 0 && r.height > 40 && st.display !== 'none' && st.visibility === 'visible',
                  s.querySelector('h2') ? s.querySelector('h2').textContent : ''];
        })""")
    assert [v[0] for v in visible] == list(SECTIONS)
    assert all(v[1] for v in visible), visible
    nav = browser.evaluate("Array.from(document.querySelectorAll('nav.toc a')).map(a => a.getAttribute('href'))")
    assert nav == [f"#{s}" for s in SECTIONS]
    # Every picture decodes (plots are SVG, thumbnails JPEG, all data URIs).
    images = browser.evaluate("""
        Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.src.slice(0, 23)])""")
    assert len(images) > 50
    assert all(ok for ok, _ in images), [src for ok, src in images if not ok][:5]
    # The hostile name is on screen as text and nothing was injected.
    assert browser.evaluate("document.body.innerText.includes('<img src=x onerror=alert(1)> \"q\\'')")
    assert browser.evaluate("document.querySelectorAll('script, iframe, object, embed, link').length") == 0
    shot = tmp_path / "report.png"
    width, height = browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert width == 1280 and height > 3000


def test_print_layout_hides_navigation(browser, full_run):
    browser.open(full_run / "report.html")
    browser.send("Emulation.setEmulatedMedia", {"media": "print"}, page=True)
    try:
        assert browser.evaluate("getComputedStyle(document.querySelector('nav.toc')).display") == "none"
        assert browser.evaluate(
            "getComputedStyle(document.querySelector('#dataset')).breakBefore") == "page"
    finally:
        browser.send("Emulation.setEmulatedMedia", {"media": ""}, page=True)


def test_checks_catch_a_remote_request_and_a_console_error(browser, tmp_path):
    """Control: the same checks flag a page that loads from elsewhere and logs an error."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">'
                    '<script>console.error("boom")</script></body></html>', encoding="utf-8")
    browser.open(page)
    found = browser.problems()
    assert found["requests"] == ["http://example.invalid/x.png"]
    assert any("boom" in c for c in found["console"])
