"""Peak memory and throughput of a whole ``harness run`` at 1,000 / 4,000 / 16,000 images.

The images are made at run time from the DermNet NZ photographs
(``$DERMATRACE_SHARED_DATA`` or ``../shared/data``, ``dermnetnz_eczema_ad/{train,test}/<class>/``):
per image a seeded random crop of one photograph (box 80-100 % of its short side, aspect 0.8-1.25,
anywhere in the frame), random horizontal and vertical flips, a resize to a short side of 384-448
px, written as JPEG into a folder of the source's class. Image ``i`` is the same at every size,
so the 1,000 images are the first 1,000 of the 4,000.

Each size is audited by ``python -m harness run`` in a fresh process with a plain-Python model
(``mean_red``: mean red / 255, input 384 x 384, so that the harness's own cost dominates), two
perturbation families at severities 1 and 3, no Grad-CAM, no cache. Measured per run:

- wall seconds and images/s (N / wall);
- peak RSS of the process tree: the sum of ``VmRSS`` over the run and all its descendants,
  sampled every 0.1 s (Ray's workers are separate processes; the same sampling for the local
  engine keeps both comparable), and ``ru_maxrss`` of the run from ``os.wait4`` (local engine:
  the true peak of the one process, sampling cannot miss it);
- RSS per image and the peak's ratio to that at the smallest size (1.0 everywhere = bounded).

``--chunk-size``, ``--workers``, ``--engine ray`` and ``--ray-address`` are passed to
``harness run`` only when given here. The bench also measures a revision of the harness from
before audits were streamed (``PYTHONPATH`` pointing at its checkout): that pipeline held the
whole dataset and its working arrays in memory (7.3 GB at its peak for 1,000 images at 384 px,
about 7 MB more per image), so a size that would not fit in the machine's available memory is
skipped for it unless ``--force``.

Usage::

    .venv/bin/python bench/bench_scale.py [--sizes 1000,4000,16000] [--engine local,ray]
        [--chunk-size N] [--workers N] [--ray-address ADDR] [--workdir DIR] [--keep] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("DERMATRACE_SHARED_DATA", REPO.parent / "shared" / "data"))
DERMNET = SHARED / "dermnetnz_eczema_ad"

INPUT_SIZE = 384
#: Bytes per image the in-memory pipeline held at its peak (7.3 GB for 1,000 images at 384 px).
IN_MEMORY_BYTES_PER_IMAGE = 7.3e6
SAMPLE_SECONDS = 0.1

MODEL = '''"""Mean red / 255: a model that costs nothing beside the harness."""
import numpy as np


def mean_red(images):
    return images[..., 0].mean(axis=(1, 2), dtype=np.float64) / 255.0
'''
SIDECAR = {"class_names": ["atopic_dermatitis", "eczema"], "positive_class": "eczema",
           "threshold": 0.5, "preprocessing": "none", "input_size": [INPUT_SIZE, INPUT_SIZE]}


# -- the images --------------------------------------------------------------------------------

def source_photographs(root: Path) -> list[tuple[Path, str]]:
    """(file, class) of every DermNet NZ photograph under ``root/{train,test}/<class>/``."""
    found = sorted((f, f.parent.name) for f in root.glob("*/*/*.jpg")
                   if f.parent.parent.name in ("train", "test"))
    if not found:
        raise SystemExit(f"no photographs under {root}/{{train,test}}/<class>/ "
                         "(set DERMATRACE_SHARED_DATA)")
    return found


def make_image(source: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random crop of ``source`` (box 80-100 % of its short side, aspect 0.8-1.25), randomly
    flipped, resized to a short side of 384-448 px."""
    import cv2

    h, w = source.shape[:2]
    ch = int(rng.uniform(0.8, 1.0) * min(h, w))
    cw = min(w, int(ch * rng.uniform(0.8, 1.25)))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = source[y:y + ch, x:x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    short = int(rng.integers(INPUT_SIZE, INPUT_SIZE + 65))
    scale = short / min(ch, cw)
    size = (max(short, round(cw * scale)), max(short, round(ch * scale)))
    return cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_AREA)


def generate_pool(pool: Path, n: int, *, seed: int, threads: int) -> tuple[int, float]:
    """Make images ``0 .. n-1`` in ``pool/<class>/<i>.jpg`` (those already there are kept).

    Image ``i`` draws from ``default_rng([seed, i])``: its photograph, crop, flips and size do not
    depend on ``n``. Returns (images made now, seconds).
    """
    import cv2

    sources = source_photographs(DERMNET)
    order = np.random.default_rng(seed).permutation(len(sources))
    for label in {c for _, c in sources}:
        (pool / label).mkdir(parents=True, exist_ok=True)
    decoded: dict[int, np.ndarray] = {}
    lock = threading.Lock()

    def photograph(k: int) -> np.ndarray:
        with lock:
            if k not in decoded:
                decoded[k] = cv2.imread(str(sources[k][0]), cv2.IMREAD_COLOR)
            return decoded[k]

    def one(i: int) -> bool:
        k = int(order[i % len(sources)])
        target = pool / sources[k][1] / f"{i:06d}.jpg"
        if target.exists():
            return False
        image = make_image(photograph(k), np.random.default_rng([seed, i]))
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, target)  # a killed generation leaves no truncated JPEG behind
        return True

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool_exec:
        made = sum(pool_exec.map(one, range(n)))
    return made, time.perf_counter() - t0


def dataset_folder(pool: Path, out: Path, n: int) -> Path:
    """``out/<class>/``: hard links (copies where linking fails) to the first ``n`` pool images."""
    if out.exists():
        shutil.rmtree(out)
    for label_dir in sorted(p for p in pool.iterdir() if p.is_dir()):
        (out / label_dir.name).mkdir(parents=True)
    wanted = {f"{i:06d}.jpg" for i in range(n)}
    for f in pool.glob("*/*.jpg"):
        if f.name in wanted:
            target = out / f.parent.name / f.name
            try:
                os.link(f, target)
            except OSError:
                shutil.copyfile(f, target)
    return out


def distinct_images(folder: Path) -> int:
    """Number of distinct files (by content) under ``folder``."""
    return len({hashlib.sha256(f.read_bytes()).digest() for f in folder.glob("*/*.jpg")})


# -- measuring a run ---------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    """ppid -> pids of every process now visible in /proc."""
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def tree_rss_bytes(root: int) -> int:
    """Sum of VmRSS of ``root`` and all its descendants (0 for processes already gone)."""
    children = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def measure(argv: list[str], *, env: dict[str, str], log: Path) -> dict[str, float]:
    """Run ``argv``; its wall seconds, the sampled peak of its tree's summed RSS and its
    ``ru_maxrss`` (bytes). Exits with the run's stderr when it fails."""
    peak = [0]
    done = threading.Event()
    with open(log, "wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)

        def sample() -> None:
            while not done.wait(SAMPLE_SECONDS):
                peak[0] = max(peak[0], tree_rss_bytes(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode != 0:
        raise SystemExit(f"harness run failed ({proc.returncode}):\n{log.read_text()[-3000:]}")
    return {"wall": wall, "tree_peak": float(peak[0]), "maxrss": usage.ru_maxrss * 1024.0}


def run_options() -> set[str]:
    """The option strings ``harness run`` accepts in this checkout."""
    from harness.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {s for action in sub.choices["run"]._actions for s in action.option_strings}


def harness_argv(*, model: str, data: Path, out: Path, engine: str,
                 args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "harness", "run", "--model", model, "--data", str(data),
            "--out", str(out), "--cache", "none", "--perturbations", "brightness_up,blur",
            "--severities", "1,3", "--gradcam", "none", "--quiet"]
    if args.chunk_size is not None:
        argv += ["--chunk-size", str(args.chunk_size)]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if engine == "ray":
        argv += ["--engine", "ray"]
        if args.ray_address:
            argv += ["--ray-address", args.ray_address]
    return argv


def available_bytes() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024.0
    return float("inf")


# -- main --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,4000,16000", help="images per run, comma-separated")
    ap.add_argument("--engine", default="local", help="local, ray or local,ray")
    ap.add_argument("--chunk-size", type=int, default=None, help="passed to harness run")
    ap.add_argument("--workers", type=int, default=None, help="passed to harness run")
    ap.add_argument("--ray-address", default=None, help="passed to harness run with --engine ray")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="folder for the generated images and the runs (default: a temporary one)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the generated images (in --workdir: reused by the next call)")
    ap.add_argument("--force", action="store_true",
                    help="run sizes the in-memory pipeline would not fit in available memory")
    ap.add_argument("--seed", type=int, default=0, help="seed of the generated images")
    ap.add_argument("--threads", type=int, default=2, help="threads generating images")
    args = ap.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    engines = [e.strip() for e in args.engine.split(",") if e.strip()]
    if not sizes or min(sizes) < 1 or set(engines) - {"local", "ray"} or not engines:
        ap.error("--sizes: positive integers; --engine: local, ray or local,ray")
    options = run_options()
    asked = {"--chunk-size": args.chunk_size, "--workers": args.workers,
             "--engine": "ray" if "ray" in engines else None, "--ray-address": args.ray_address}
    missing = [flag for flag, value in asked.items() if value is not None and flag not in options]
    if missing:
        raise SystemExit(f"harness run in {REPO} has no {', '.join(missing)} option")
    streamed = "--chunk-size" in options

    created = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="dermatrace-scale-")) if created else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    pool = work / f"images-seed{args.seed}"
    pool_existed = pool.exists()
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=work))
    model = runs / "m.py"
    model.write_text(MODEL, encoding="utf-8")
    model.with_suffix(".json").write_text(json.dumps(SIDECAR), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    print(f"harness: {REPO} ({'streamed: --chunk-size exists' if streamed else 'in-memory pipeline'})"
          f"; load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs; {available_bytes() / 1e9:.1f} GB available")
    rows = []
    try:
        for n in sizes:
            need = n * IN_MEMORY_BYTES_PER_IMAGE
            if not streamed and not args.force and need > 0.8 * available_bytes():
                print(f"{n} images: skipped, the in-memory pipeline needs about {need / 1e9:.0f} GB "
                      f"({available_bytes() / 1e9:.1f} GB available; --force runs it anyway)")
                continue
            made, secs = generate_pool(pool, n, seed=args.seed, threads=args.threads)
            data = dataset_folder(pool, runs / f"data-{n}", n)
            distinct = distinct_images(data)
            print(f"{n} images: {made} generated in {secs:.1f} s"
                  f"{f' ({made / secs:.0f}/s)' if made else ''}, {distinct} distinct, in {data}")
            for engine in engines:
                out = runs / f"run-{engine}-{n}"
                m = measure(harness_argv(model=f"{model}:mean_red", data=data, out=out,
                                         engine=engine, args=args),
                            env=env, log=runs / f"run-{engine}-{n}.log")
                timings = json.loads((out / "results.json").read_text())["timings"]
                rows.append({"engine": engine, "n": n, **m, "timings": timings})
                shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        if args.keep:
            print(f"images kept in {pool}")
        elif created:
            shutil.rmtree(work, ignore_errors=True)
        elif not pool_existed:  # a pool kept by an earlier --keep stays
            shutil.rmtree(pool, ignore_errors=True)

    print_table(rows)
    return 0


def print_table(rows: list[dict]) -> None:
    """engine, images, wall, images/s, peak RSS (tree sum), RSS per image, ratio to the smallest
    size of the same engine, ``ru_maxrss``; then each run's stage seconds."""
    if not rows:
        return
    first = {}
    for r in rows:
        first.setdefault(r["engine"], r["tree_peak"])
    print()
    print(f"{'engine':<7}{'images':>8}{'wall s':>9}{'images/s':>10}{'peak RSS MB':>13}"
          f"{'RSS/image KB':>14}{'x smallest':>12}{'ru_maxrss MB':>14}")
    for r in rows:
        print(f"{r['engine']:<7}{r['n']:>8}{r['wall']:>9.1f}{r['n'] / r['wall']:>10.1f}"
              f"{r['tree_peak'] / 1e6:>13.0f}{r['tree_peak'] / r['n'] / 1e3:>14.1f}"
              f"{r['tree_peak'] / first[r['engine']]:>12.2f}{r['maxrss'] / 1e6:>14.0f}")
    print("peak RSS: sum of VmRSS over the run's process tree, sampled every "
          f"{SAMPLE_SECONDS} s; ru_maxrss: the run's own peak (os.wait4; for Ray the driver only)")
    for r in rows:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items())
        print(f"  {r['engine']} {r['n']}: {stages}")


if __name__ == "__main__":
    sys.exit(main())
