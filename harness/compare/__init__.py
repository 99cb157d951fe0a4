"""Baseline against candidate: two runs of the same images, compared on paired resamples."""
