"""Baseline against candidate: two runs of the same images, compared on paired resamples.

``runs`` holds the comparison itself (``compare``, ``read_run``), ``comparison`` the
:class:`~harness.paired.comparison.Comparison` object with its gates and files. The public entry
is :func:`harness.compare` (``harness/api.py``).
"""
