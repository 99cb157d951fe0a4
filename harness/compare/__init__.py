"""Baseline against candidate: two runs of the same images, compared on paired resamples.

``runs`` holds the comparison itself (``compare``, ``read_run``), ``comparison`` the
:class:`~harness.compare.comparison.Comparison` object with its gates and files.

This package is also what ``harness.compare`` names, and calling it is calling
:func:`harness.api.compare`: ``harness.compare(a, b, *, n_boot=None, seed=0, gates=None,
strict=False) -> Comparison``.
"""
from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`harness.api.compare` (see the module docstring)."""

    def __call__(self, a, b, *, n_boot=None, seed=0, gates=None, strict=False, **unknown):
        from harness.api import compare

        return compare(a, b, n_boot=n_boot, seed=seed, gates=gates, strict=strict, **unknown)


sys.modules[__name__].__class__ = _CallablePackage
