"""Output files get the mode the umask gives a plain file (readable by others under 022)."""
import os
import stat

import pytest

from harness.results.io import atomic_write_bytes, atomic_write_text, write_json
from sample_run import make_sample_run


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_follow_the_umask(tmp_path, umask_022):
    atomic_write_text(tmp_path / "a.txt", "x")
    atomic_write_bytes(tmp_path / "b.bin", b"x")
    write_json(tmp_path / "c.json", {"a": 1})
    assert [_mode(tmp_path / n) for n in ("a.txt", "b.bin", "c.json")] == [0o644] * 3
    os.umask(0o077)
    atomic_write_text(tmp_path / "private.txt", "x")
    assert _mode(tmp_path / "private.txt") == 0o600


def test_a_rendered_run_is_readable_by_others(tmp_path, umask_022):
    from reports import render_report

    run = tmp_path / "run"
    make_sample_run(run, n=120, n_boot=50)
    render_report(run)
    written = [p for p in run.rglob("*") if p.is_file() and p.suffix in {".json", ".csv", ".html", ".md"}]
    assert {p.name for p in written} >= {"results.json", "samples.csv", "report.html", "summary.md"}
    for p in written:
        assert _mode(p) & 0o044 == 0o044, f"{p.name} is {oct(_mode(p))}"
