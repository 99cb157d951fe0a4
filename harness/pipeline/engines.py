"""The engines an audit's chunks can run on: ``local`` (this process, worker threads ahead of
the model) and ``ray`` (a Ray cluster: ``pip install 'dermatrace[ray]'``). Both run the same
chunk functions (``chunks``) and hand back the same per-image numbers, so an audit's results do
not depend on the engine."""
from __future__ import annotations

from harness.config import AuditConfig
from harness.pipeline.engine_local import LocalEngine


def make_engine(cfg: AuditConfig):
    """The engine ``cfg.engine`` names, with ``cfg.workers`` workers (Ray: joined or started
    now, so that an unreachable cluster or a missing Ray stops the audit before any work)."""
    if cfg.engine == "ray":
        from harness.pipeline.engine_ray import RayEngine

        return RayEngine(cfg, address=cfg.ray_address, workers=cfg.workers)
    return LocalEngine(workers=cfg.workers)
