"""File, class, label and gate names are shown as text: nothing a data set holds can run in the report.

The simulated audit puts ``<img src=x onerror=alert(1)> "q'`` into a class name, file names, a
skipped file, a Fitzpatrick label value, a gate name and the model name.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from reports.render import render_report
from sample_run import HOSTILE, make_sample_run


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_hostile")
    make_sample_run(out, n=120, n_boot=50, severities=(1, 3), families=("blur",), hostile=True, seed=1)
    render_report(out, strict=True)
    return out


def test_hostile_names_render_as_text(hostile_run):
    page = (hostile_run / "report.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page
    assert "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    parser = Elements()
    parser.feed(page)
    text = "".join(parser.text)
    # The name is shown, as text, where it was used: model title, class, file, skipped file, gate.
    assert text.count(HOSTILE) >= 5
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert tag not in ("script", "iframe", "object", "embed", "link", "base", "form")
        if tag == "img":
            assert attrs["src"].startswith(("data:image/jpeg;base64,", "data:image/svg+xml;base64,")), attrs
            assert HOSTILE in attrs.get("alt", "") or not re.search(r"[<>\"']", attrs.get("alt", ""))


def test_page_forbids_scripts_and_remote_loads(hostile_run):
    page = (hostile_run / "report.html").read_text(encoding="utf-8")
    parser = Elements()
    parser.feed(page)
    csp = [a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0]
    without_data = re.sub(r"data:[a-z/+]+;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"(?i)\b(?:https?|ftp|wss?)://|//[a-z0-9-]+\.[a-z]{2,}", without_data)
    assert "@import" not in page and "url(" not in page and "<script" not in page.lower()
    assert "@font-face" not in page


def test_markdown_escapes_names(hostile_run):
    for name in ("summary.md", "model_card.md"):
        md = (hostile_run / name).read_text(encoding="utf-8")
        assert "<img" not in md and "onerror=alert(1)>" not in md
    card = (hostile_run / "model_card.md").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in card   # the model name, escaped
    summary = (hostile_run / "summary.md").read_text(encoding="utf-8")
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "&lt;img" in line]
    assert rows   # the hostile gate name is in the verdict table
    for line in rows:
        # a pipe or quote inside a name never opens a new table cell: 7 columns, 8 bars
        assert line.count("|") - line.count("\\|") == 8
