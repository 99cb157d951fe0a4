"""``--engine ray``: the same audit on a two-node Ray cluster as on the local engine; a model's
error in a worker (on a Ray of this machine) shows as its one line; and a cluster that does not
answer or a missing Ray stops the run at once with one line.

The cluster is started with Ray's own command line (a head and a second node, one CPU each),
without this checkout on its ``PYTHONPATH`` and from another folder, so the workers can import
this ``harness`` only through what the engine gives them. Its token is made for the test and kept
in the environment (nothing is written to the home folder); its processes are stopped by their
process groups (``ray stop`` would stop every Ray on the machine).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REDNESS_MODEL, REPO
from harness import cli

RAY = Path(sys.executable).with_name("ray")
AUDIT = ["--perturbations", "brightness_up,blur", "--severities", "1,3", "--gradcam", "none",
         "--chunk-size", "8", "--workers", "2", "--n-boot", "50", "--quiet"]


def _manifest(dermnet_test: Path, out: Path, per_class: int) -> Path:
    rows = [{"path": f"{label}/{p.name}", "label": label}
            for label in ("eczema", "atopic_dermatitis")
            for p in sorted((dermnet_test / label).glob("*.jpg"))[:per_class]]
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _harness(args: list[str], *, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


class _Cluster:
    """A Ray head and a second node, one CPU each, in ``temp`` (short: Ray's socket paths must
    stay under 108 characters)."""

    def __init__(self, temp: Path, env: dict):
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env, self.temp, self.procs = env, temp, []
        common = ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                  "--disable-usage-stats"]
        self._start("head", ["--head", "--port", str(self.port), "--include-dashboard=false",
                             "--temp-dir", str(temp), *common])
        self._wait_for_port()
        self._start("node", ["--address", self.address, *common])

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.temp / f"{name}.log", "w")
        self.procs.append(subprocess.Popen([str(RAY), "start", *args], cwd=self.temp, env=self.env,
                                           stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))
        log.close()

    def _wait_for_port(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the Ray head did not open port {self.port}: "
                           f"{(self.temp / 'head.log').read_text()[-2000:]}")

    def wait_for_nodes(self, n: int, timeout: float = 90.0) -> None:
        code = ("import sys, time, ray\n"
                f"ray.init(address={self.address!r}, log_to_driver=False, logging_level='ERROR')\n"
                f"end = time.monotonic() + {timeout}\n"
                "while time.monotonic() < end:\n"
                "    if sum(1 for x in ray.nodes() if x['Alive']) >= %d: sys.exit(0)\n"
                "    time.sleep(0.5)\n"
                "sys.exit(1)\n" % n)
        proc = subprocess.run([sys.executable, "-c", code], cwd=self.temp, env=self.env,
                              capture_output=True, text=True, timeout=timeout + 60)
        assert proc.returncode == 0, proc.stderr[-2000:]

    def stop(self) -> None:
        """End the processes this cluster started: each ``ray start --block`` leads a process
        group holding the node's daemons (its workers end with their raylet)."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        end = time.monotonic() + 5
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


@pytest.mark.slow
def test_ray_cluster_audit_equals_the_local_engine(dermnet_test, tmp_path):
    manifest = _manifest(dermnet_test, tmp_path / "audit.csv", per_class=15)
    data = ["--model", REDNESS_MODEL, "--data", str(manifest), "--data-root", str(dermnet_test),
            *AUDIT]
    temp = Path(tempfile.mkdtemp(prefix="dtray-"))
    assert len(str(temp)) < 30
    ray_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ray_env.update(RAY_TMPDIR=str(temp), RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token",
                   RAY_AUTH_TOKEN=secrets.token_hex(32))
    driver_env = dict(ray_env, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cluster = None
    try:
        cluster = _Cluster(temp, ray_env)
        local = _harness([*data, "--out", str(tmp_path / "local"), "--cache", "none"],
                         env=driver_env, cwd=tmp_path)
        assert local.returncode == 0, local.stderr
        cluster.wait_for_nodes(2)
        on_ray = _harness([*data, "--out", str(tmp_path / "ray"), "--cache",
                           str(tmp_path / "cache"), "--engine", "ray", "--ray-address",
                           cluster.address], env=driver_env, cwd=tmp_path)
    finally:
        if cluster is not None:
            cluster.stop()
    try:  # a Ray of this machine for the run (no --ray-address); a model that fails in a worker
        small = _manifest(dermnet_test, tmp_path / "small.csv", per_class=1)
        failed = _harness(["--model", REDNESS_MODEL.replace(":redness", ":wrong_shape"),
                           "--data", str(small), "--data-root", str(dermnet_test), *AUDIT,
                           "--out", str(tmp_path / "failed"), "--cache", "none", "--engine",
                           "ray"], env=driver_env, cwd=tmp_path)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stderr == ""  # --quiet: nothing of Ray's on the audit's stderr

    a = json.loads((tmp_path / "local" / "results.json").read_text())
    b = json.loads((tmp_path / "ray" / "results.json").read_text())
    assert a["engine"] == {"name": "local", "workers": 2, "chunk_size": 8}
    assert b["engine"] == {"name": "ray", "workers": 2, "address": cluster.address, "nodes": 2,
                           "chunk_size": 8}
    for r in (a, b):
        r.pop("timings")
        r.pop("engine")
    assert a == b
    assert a["model"]["output_kind"] is not None  # read by the workers, reported by the driver
    assert (tmp_path / "local" / "samples.csv").read_bytes() == \
        (tmp_path / "ray" / "samples.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "ray" / "samples.csv")) == 30
    # The workers' predictions went into the run's cache folder.
    assert list((tmp_path / "cache").rglob("*.seg"))
    # The worker's UserError reaches the user as its one line, exit 2, as on the local engine.
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.strip().splitlines() == [
        f"error: {REDNESS_MODEL.replace(':redness', ':wrong_shape')}: returned shape (3,) for a "
        "batch of 2 images; return (N,) or (N, classes) probabilities"]


def test_unreachable_ray_address_stops_the_run_in_one_line(dermnet_test, tmp_path, capsys):
    manifest = _manifest(dermnet_test, tmp_path / "audit.csv", per_class=1)
    port = _free_port()  # bound then closed: nothing listens there
    start = time.monotonic()
    code = cli.main(["run", "--model", REDNESS_MODEL, "--data", str(manifest), "--data-root",
                     str(dermnet_test), "--out", str(tmp_path / "out"), "--cache", "none",
                     "--engine", "ray", "--ray-address", f"127.0.0.1:{port}"])
    took = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2
    assert took < 10
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: --ray-address 127.0.0.1:{port}: no Ray cluster answers "
                               "there (connection refused)")
    assert "ray start --head" in lines[0]
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize("address", ["ray://127.0.0.1:10001", "127.0.0.1", "host:port"])
def test_malformed_ray_address_names_the_option(address):
    from harness.errors import UserError
    from harness.pipeline.engine_ray import parse_address

    with pytest.raises(UserError, match=r"^--ray-address .*expected host:port"):
        parse_address(address)


def test_missing_ray_gives_the_install_hint(dermnet_test, tmp_path, capsys, monkeypatch):
    manifest = _manifest(dermnet_test, tmp_path / "audit.csv", per_class=1)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = cli.main(["run", "--model", REDNESS_MODEL, "--data", str(manifest), "--data-root",
                     str(dermnet_test), "--out", str(tmp_path / "out"), "--cache", "none",
                     "--engine", "ray"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "error: --engine ray needs Ray: pip install 'dermatrace[ray]'"


def test_workers_import_a_callable_models_module_from_where_the_driver_does():
    from callable_models import redness
    from harness.environment import ray_worker_env
    from harness.pipeline.engine_ray import import_root

    tests = str(REPO / "tests")
    assert import_root("callable_models:redness") == tests  # module:function, found on sys.path
    assert import_root(redness) == tests                     # the function itself (Python API)
    assert import_root(REDNESS_MODEL) is None                # a file: loaded by its path
    env = ray_worker_env(also=[tests])
    assert env["PYTHONPATH"].split(os.pathsep)[:2] == [str(REPO), tests]
