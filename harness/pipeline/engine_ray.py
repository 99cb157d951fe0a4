"""The Ray engine: an audit's chunks run on a Ray cluster, by actors that each hold the model.

``--engine ray`` without ``--ray-address`` starts a Ray of this machine for the run
(``--workers`` CPUs); with an address (``host:port`` of a cluster's head, or ``auto``) it joins
that cluster, after checking within a few seconds that something answers there. Either way an
unreachable cluster or a missing Ray stops the audit before any work, with one line.

Each of the ``--workers`` actors opens the model once, from the same arguments the audit opened it
with (a model object given to the Python API travels by cloudpickle), checks that it has the same
hash and cache tag, and keeps its own prediction cache on the same folder. It then runs whole
chunks (:func:`harness.pipeline.chunks.run_chunk`: the same functions as the local engine) and
hands back their per-image numbers. The job (the planned source, the ladder, the settings) is put
in the object store once and given to each actor once; a chunk's task carries its indices only.

Chunks go to the actors in turn and come back in chunk order, at most :data:`IN_FLIGHT_PER_WORKER`
per actor at a time, so the driver holds a bounded number of results whatever the dataset. Until
the model's output kind is known (a callable's is read from its first batch) one chunk runs at a
time; the kind found is then given to every actor and to the audit's model, so every image is
read the same way, as the local engine reads them.

Workers import ``harness`` from where the driver does: the folder holding it (and the folder a
callable model's module is imported from) goes first on the workers' ``PYTHONPATH``, and each
actor works in the driver's working folder, so relative paths mean the same there (the nodes must
see the same files). Ray's own output stays out of the audit's stderr.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cache import ArrayCache, RunCache
from harness.config import AuditConfig
from harness.environment import quiet_ray, ray_worker_env
from harness.errors import UserError
from harness.models.locate import locate, locate_object
from harness.models.open import ModelWithSpec, open_model
from harness.pipeline.chunks import ChunkJob, ChunkResult, run_chunk

#: Seconds to wait for the cluster's head to answer before giving up.
CONNECT_TIMEOUT = 3.0
#: Chunks each actor may have queued or running at a time (one running, one waiting).
IN_FLIGHT_PER_WORKER = 2
_INSTALL = "--engine ray needs Ray: pip install 'dermatrace[ray]'"


@dataclass(frozen=True)
class ModelOpening:
    """How the audit opened its model (``inputs.model_stage``, then ``stream.plan_stage`` with
    the dataset's labels when the sidecar lacks class names): what an actor repeats."""

    model: Any
    spec_path: str | None
    positive_class: str | None
    trust: bool
    cache_dir: str | None

    @classmethod
    def of(cls, cfg: AuditConfig) -> "ModelOpening":
        return cls(model=cfg.model, spec_path=cfg.model_spec, positive_class=cfg.positive_class,
                   trust=cfg.trust_model,
                   cache_dir=None if cfg.cache_dir is None else str(cfg.cache_dir))

    def open(self, *, dataset_labels: list[str], cache: ArrayCache):
        """The model, as the audit's driver has it once the dataset is planned."""
        model = open_model(self.model, spec_path=self.spec_path,
                           positive_class=self.positive_class, trust=self.trust, cache=cache)
        if model.spec.extra.get("needs_dataset_labels"):
            model = open_model(self.model, spec_path=self.spec_path,
                               positive_class=self.positive_class, trust=self.trust,
                               dataset_labels=dataset_labels, cache=cache)
        return model


class ChunkWorker:
    """One Ray actor's state: the model (opened once), its cache and the audit's job.

    A failure while opening is kept and raised by :meth:`ready`, so that it reaches the driver as
    a task error (a ``UserError`` then shows as its one line), not as a dead actor.
    """

    def __init__(self, opening: ModelOpening, job: ChunkJob, *, cwd: str):
        self.error: BaseException | None = None
        self.model = self.cache = None
        self.job = job
        try:
            if os.path.isdir(cwd):
                os.chdir(cwd)
            self.cache = RunCache(None if opening.cache_dir is None else Path(opening.cache_dir))
            self.model = opening.open(dataset_labels=job.source.planned_labels, cache=self.cache)
        except BaseException as exc:  # raised by ready(), on the driver's side
            self.error = exc

    def ready(self) -> tuple[str, str, tuple[str | None, bool]]:
        """The model's ``hash``, ``cache_tag`` and :meth:`kind` (or the opening's error)."""
        if self.error is not None:
            raise self.error
        return self.model.hash, self.model.cache_tag, self.kind()

    def kind(self) -> tuple[str | None, bool]:
        """The model's output kind (None while unknown) and whether it was read from data."""
        return self.model.output_kind, self.model.output_kind_from_data

    def adopt_output_kind(self, kind: tuple[str, bool]) -> None:
        self.model.adopt_output_kind(kind[0], from_data=kind[1])

    def run(self, indices: list[int]) -> tuple[ChunkResult, tuple[str | None, bool]]:
        """One chunk's result, and the output kind the model has settled on (:meth:`kind`)."""
        result = run_chunk(self.job, indices, model=self.model, cache=self.cache)
        return result, self.kind()


class RayEngine:
    """Run an audit's chunks on a Ray cluster (see the module docstring).

    Parameters
    ----------
    cfg : AuditConfig
        The audit's configuration (how the actors open the model).
    address : str or None
        ``host:port`` of a running cluster's head, or ``"auto"``; None starts a Ray of this
        machine for the run, with ``workers`` CPUs.
    workers : int
        Actors, each holding the model and taking one CPU.

    Raises
    ------
    UserError
        Ray is not installed, the address is malformed or nothing answers there, or the cluster
        has fewer CPUs than ``workers``.
    """

    name = "ray"

    def __init__(self, cfg: AuditConfig, *, address: str | None, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self.workers = workers
        self.address = address
        self._opening = ModelOpening.of(cfg)
        self._ray = ray = _import_ray()
        self._owned = not ray.is_initialized()
        if self._owned:
            quiet = {"log_to_driver": False, "logging_level": logging.ERROR,
                     "include_dashboard": False}
            if address is None:
                ray.init(address="local", num_cpus=workers, **quiet)
            else:
                if address != "auto":
                    check_reachable(address)
                try:
                    ray.init(address=address, **quiet)
                except (ConnectionError, RuntimeError, ray.exceptions.RayError) as exc:
                    raise UserError(f"--ray-address {address}: cannot join the Ray cluster there "
                                    f"({_first_line(exc)}); check the address and, if the "
                                    "cluster uses token authentication, its token "
                                    "(RAY_AUTH_TOKEN)") from None
        try:
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if cpus < workers:
                where = "the local Ray" if address is None else f"the Ray cluster at {address}"
                raise UserError(f"--workers {workers}: {where} has {cpus} CPU(s), one per worker "
                                f"is needed; give --workers {max(cpus, 1)} or add nodes")
            self._nodes = self._alive_nodes()
        except BaseException:
            self.close()
            raise

    def describe(self) -> dict:
        if self._ray.is_initialized():
            self._nodes = self._alive_nodes()
        return {"name": self.name, "workers": self.workers,
                "address": "local" if self.address is None else self.address,
                "nodes": self._nodes}

    def close(self) -> None:
        """Disconnect from (or stop) the Ray this engine joined (or started); a Ray that was
        running in this process before is left as it was."""
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()

    def run(self, job: ChunkJob, chunks: list[list[int]], *, model,
            cache: ArrayCache) -> Iterator[ChunkResult]:
        """The chunks' results, in chunk order. ``model`` is the audit's: the actors' copies must
        match it, and it adopts the output kind they settle on. ``cache`` is not used here: each
        actor has its own on the same folder."""
        if not chunks:
            return
        ray = self._ray
        actors = self._start_actors(job, model=model, n=min(self.workers, len(chunks)))
        try:
            kind = (model.output_kind, model.output_kind_from_data)
            if kind[0] is not None:
                for actor in actors:
                    actor.adopt_output_kind.remote(kind)
            pending: deque = deque()
            submitted = 0
            while submitted < len(chunks) or pending:
                window = IN_FLIGHT_PER_WORKER * len(actors) if kind[0] is not None else 1
                while submitted < len(chunks) and len(pending) < window:
                    actor = actors[submitted % len(actors)]
                    pending.append(actor.run.remote(chunks[submitted]))
                    submitted += 1
                result, found = _get(ray, pending.popleft())
                if kind[0] is None and found[0] is not None:
                    kind = found
                    model.adopt_output_kind(kind[0], from_data=kind[1])
                    for actor in actors:  # runs before each actor's next chunk
                        actor.adopt_output_kind.remote(kind)
                yield result
        finally:
            for actor in actors:
                ray.kill(actor)

    def _start_actors(self, job: ChunkJob, *, model, n: int) -> list:
        ray = self._ray
        opening = self._opening
        try:
            opening_ref = ray.put(opening)
        except Exception as exc:  # a model object cloudpickle cannot carry
            raise UserError(f"--engine ray: the model given to the Python API cannot be sent to "
                            f"the Ray workers ({_first_line(exc)}); give it as a file or "
                            "module:function") from None
        job_ref = ray.put(job)
        root = import_root(opening.model)
        worker = ray.remote(num_cpus=1)(ChunkWorker).options(
            runtime_env={"env_vars": ray_worker_env(also=[root] if root else [])})
        actors = [worker.remote(opening_ref, job_ref, cwd=os.getcwd()) for _ in range(n)]
        try:
            try:
                opened = _get(ray, [a.ready.remote() for a in actors])
            except ray.exceptions.RayActorError as exc:  # its class or arguments did not load
                raise UserError(f"--engine ray: a Ray worker could not start ({_last_line(exc)});"
                                " every node needs this DermaTrace, its dependencies and the data"
                                " at the same paths") from None
            for found in opened:
                kind = found[2]  # known before any batch: from the sidecar or the model's facts
                if kind[0] is not None and model.output_kind is None:
                    model.adopt_output_kind(kind[0], from_data=kind[1])
                if found[:2] != (model.hash, model.cache_tag):
                    if not isinstance(opening.model, (str, Path)):
                        raise UserError(
                            "--engine ray: the model given to the Python API does not arrive the "
                            f"same in the Ray workers (hash {found[0][:12]}, audit "
                            f"{model.hash[:12]}); give it as a file or module:function")
                    raise RuntimeError(f"a Ray worker opened {opening.model!r} as hash "
                                       f"{found[0]!r}, tag {found[1]!r}; the audit has "
                                       f"{model.hash!r}, {model.cache_tag!r}")
        except BaseException:
            for actor in actors:
                ray.kill(actor)
            raise
        return actors

    def _alive_nodes(self) -> int:
        return sum(1 for node in self._ray.nodes() if node.get("Alive"))


def check_reachable(address: str, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ``UserError`` unless something accepts a TCP connection at ``address``
    (``host:port``, the cluster head's GCS port) within ``timeout`` seconds."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.timeout:
        why = f"timed out after {timeout:g} s"
    except OSError as exc:
        why = "connection refused" if isinstance(exc, ConnectionRefusedError) else \
            (exc.strerror or str(exc)).lower()
    raise UserError(f"--ray-address {address}: no Ray cluster answers there ({why}); start one "
                    "with `ray start --head` or leave --ray-address out for a local Ray")


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) as ``(host, port)``, or ``UserError``."""
    host, sep, port = str(address).rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--ray-address {address!r}: expected host:port of a Ray cluster's head "
                        "(e.g. 127.0.0.1:6379) or auto")
    return host, int(port)


def import_root(model: Any) -> str | None:
    """The folder on ``sys.path`` that a callable model's module is imported from
    (``pkg.mod:function``, or a function of a module given to the Python API), for the workers'
    ``PYTHONPATH``; None for other models and for functions of ``__main__`` (those travel by
    value)."""
    if isinstance(model, ModelWithSpec):
        model = model.model
    try:
        src = locate(str(model)) if isinstance(model, (str, Path)) else locate_object(model)
    except UserError:
        return None
    if src.format != "callable" or not src.module or src.module == "__main__":
        return None
    file = src.path or getattr(sys.modules.get(src.module), "__file__", None)
    if not file:
        return None
    folder = Path(file).absolute().parent
    for _ in range(src.module.count(".") + (Path(file).name == "__init__.py")):
        folder = folder.parent
    return str(folder)


def _import_ray():
    quiet_ray()
    try:
        import ray
    except ImportError:
        raise UserError(_INSTALL) from None
    return ray


def _get(ray, refs):
    """``ray.get``, a ``UserError`` raised in a worker raised here as itself (its one line)."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, UserError):
            raise exc.cause from None
        raise


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
