"""DermaTrace: audit skin-image classifiers for fairness across skin tones and robustness to the
ways clinical photographs vary.

The Python API (``harness/api.py``), loaded on first use so that ``import harness`` stays cheap
and imports no TensorFlow::

    harness.audit(model=..., data=..., **options) -> harness.Audit
    harness.load_run(run_dir) -> harness.Audit
    harness.compare(a, b, *, n_boot=None, seed=0, gates=None, strict=False) -> harness.Comparison

The command line is ``python -m harness`` (``harness/cli.py``).
"""

__version__ = "0.1.0"

_API = ("Audit", "Comparison", "USER_CACHE", "audit", "compare", "load_run")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
