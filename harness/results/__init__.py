"""The results files: the per-run ``results.json`` / ``samples.csv`` and the names they use."""
