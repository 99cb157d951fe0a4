"""The report's first screen answers "is this model fit to ship, and for whom does it fail".

The demo's baseline audit (the session's ``demo_story``, shared with the demo test) is opened in
headless Chromium through Selenium, in a 1280×800 viewport: the gate verdict, the "What we found"
block and every row of the grouped gate table's failing gates must lie wholly within the first
800 px, and what they say must be what results.json holds. The screenshot is kept under the
test's tmp_path.
"""
from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH, HEIGHT = 1280, 800

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's chromium and chromedriver (/usr/bin/chromium, "
                              "/usr/bin/chromedriver): apt-get install -y chromium chromium-driver"),
]


@pytest.fixture
def driver(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--window-size={WIDTH},{HEIGHT}",
                f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9",
                "--disable-background-networking", "--no-first-run"):
        options.add_argument(arg)
    # The driver named explicitly: Selenium Manager is never asked to download one.
    d = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield d
    d.quit()


def _viewport(d) -> list[int]:
    """Make the page's viewport exactly WIDTH × HEIGHT (the window adds its own frame)."""
    inner = d.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [WIDTH, HEIGHT]:
        outer = d.get_window_size()
        d.set_window_size(outer["width"] + WIDTH - inner[0], outer["height"] + HEIGHT - inner[1])
    return d.execute_script("return [window.innerWidth, window.innerHeight]")


BOXES = """
const box = e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom, r.width]; };
return {
  verdict: box(document.querySelector('header.top .verdict')),
  found: box(document.getElementById('what-we-found')),
  failing: Array.from(document.querySelectorAll('#gates-by-gate tbody tr')).map(box),
  rest: box(document.getElementById('gates-rest')),
  performance: box(document.getElementById('performance')),
  every_open: document.getElementById('gates-all').open,
  found_text: document.getElementById('what-we-found').innerText,
  failing_text: Array.from(document.querySelectorAll('#gates-by-gate tbody tr')).map(r => r.innerText),
};
"""


def test_the_first_screen_holds_the_verdict_the_findings_and_the_failing_gates(demo_story, driver,
                                                                             tmp_path):
    out, code, _ = demo_story
    run = out / "runs" / "baseline"
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    gates = results["gates"]
    failing = [g for g in gates["by_gate"] if g["fails"]]
    assert code == 0 and not gates["passed"] and failing   # the demo's baseline fails its gates

    driver.get((run / "report.html").resolve().as_uri())
    assert _viewport(driver) == [WIDTH, HEIGHT]
    boxes = driver.execute_script(BOXES)
    for name in ("verdict", "found"):
        top, bottom, width = boxes[name]
        assert 0 <= top and bottom <= HEIGHT and width > 0, (name, boxes[name])
    assert len(boxes["failing"]) == len(failing)
    assert all(0 <= top and bottom <= HEIGHT for top, bottom, _ in boxes["failing"]), boxes["failing"]
    assert boxes["performance"][0] > HEIGHT and boxes["every_open"] is False   # the rest is folded

    # What the first screen says is what results.json holds.
    found = boxes["found_text"]
    assert f"{gates['gates_failing']} of {len(gates['by_gate'])} gates fail the run" in found
    gap = results["findings"]["what_we_found"]["worst_gap"]
    assert f"gap {gap['difference']['value']:.3f} [{gap['difference']['ci'][0]:.3f}" in found
    hurt = results["findings"]["what_we_found"]["hurts_most"]
    assert f"{hurt['variant']}: Balanced accuracy drops by {hurt['drop']['value']:.3f}" in found
    for g, text in zip(failing, boxes["failing_text"]):
        worst = gates["verdicts"][g["worst"]]
        assert g["name"] in text and f"{worst['value']:.3f}" in text
        assert f"{g['counts']['FAIL']} FAIL" in text

    shot = tmp_path / "first-screen.png"
    assert driver.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
