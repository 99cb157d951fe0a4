"""The explorer in a real browser: ``harness explore`` as a subprocess on a free port, driven by
headless Chromium through Selenium (Debian's ``chromium`` and ``chromium-driver``; Selenium
Manager is off, so nothing is downloaded).

A DermNet NZ photograph is uploaded and the page must show ``p(eczema)`` equal to ``harness
run``'s ``p`` for it, and after the severity slider moves, the perturbed probability equal to
``samples.csv``'s ``p[brightness_down@4]``; a non-image gets a message and the app keeps
answering. The browser runs with a proxy that points at a closed port, and every resource the page
loaded must come from the explorer itself.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from conftest import REDNESS_MODEL, REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # a server start, a browser start, three answers: about 25 s
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="headless Chromium or its driver not installed (/usr/bin/chromium, "
                              "/usr/bin/chromedriver); apt-get install -y chromium chromium-driver"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def explorer_url(tmp_path):
    """``python -m harness explore --model <redness>`` on a free port; its URL."""
    port = _free_port()
    log = (tmp_path / "explore.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "harness", "explore", "--model", REDNESS_MODEL,
                             "--port", str(port), "--quiet"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [str(REPO), os.environ.get("PYTHONPATH", "")])})
    try:
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}", (url, (tmp_path / "explore.log").read_text())
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the explorer did not start: "
                                         f"{(tmp_path / 'explore.log').read_text()}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def browser(tmp_path):
    pytest.importorskip("selenium")
    os.environ["SE_MANAGER"] = "off"  # Selenium Manager never downloads a driver or a browser
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,2200", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--proxy-server=127.0.0.1:{_free_port()}"):  # loopback is never proxied
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for_text(driver, pattern: str, *, timeout: float = 60) -> re.Match:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: re.search(pattern, d.find_element(By.TAG_NAME, "body").text))


def test_upload_slide_and_a_bad_file_in_a_real_browser(explorer_url, browser, dermnet_small_run,
                                                       tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    samples = pd.read_csv(dermnet_small_run / "samples.csv")
    row = samples[samples["label"] == "eczema"].iloc[0]
    photo = dermnet_small_run.parent / "data" / row["file"]
    wait = WebDriverWait(browser, 60, poll_frequency=0.2)

    browser.get(explorer_url)
    upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "input[type=file]"))
    upload.send_keys(str(photo))
    shown = _wait_for_text(browser, r"(?m)^p\(eczema\) = (\d\.\d{4})")
    assert abs(float(shown.group(1)) - row["p"]) < 1e-4
    _wait_for_text(browser, r"brightness_down@3: p\(eczema\) = \d\.\d{4}")

    # the severity slider, from 3 to 4, by keyboard as a person would
    slider = wait.until(lambda d: d.find_element(By.CSS_SELECTOR,
                                                 "[data-testid=stSlider] input[type=range]"))
    browser.execute_script("arguments[0].focus()", slider)
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
    moved = _wait_for_text(browser, r"brightness_down@4: p\(eczema\) = (\d\.\d{4})")
    assert abs(float(moved.group(1)) - row["p[brightness_down@4]"]) < 1e-4

    # a non-image: a message, no traceback; then the app still answers
    junk = tmp_path / "notes.jpg"
    junk.write_bytes(b"these are notes, not a photograph")
    upload = browser.find_element(By.CSS_SELECTOR, "input[type=file]")
    upload.send_keys(str(junk))
    _wait_for_text(browser, r"Cannot use this file: notes\.jpg: unrecognised image content")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in body and "p(eczema) =" not in body
    other = dermnet_small_run.parent / "data" / samples.iloc[0]["file"]
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(other))
    again = _wait_for_text(browser, r"(?m)^p\(eczema\) = (\d\.\d{4})")
    assert abs(float(again.group(1)) - samples.iloc[0]["p"]) < 1e-4

    # everything the page loaded came from the explorer itself
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    outside = [u for u in loaded if not u.startswith((explorer_url, "data:", "blob:"))]
    assert loaded and outside == []
    browser.save_screenshot(str(tmp_path / "explore.png"))
    assert (tmp_path / "explore.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
