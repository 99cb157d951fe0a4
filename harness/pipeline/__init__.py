"""One audit as a straight line of stages (``audit.run_audit``), one module per stage, in order:

- ``inputs``: open the model (``model_stage``), the labels and cache keys;
- ``stream``: plan the dataset, then the streamed pass over chunks of images (``chunks``: decode,
  masks, skin tone, the ladder, predictions, achieved deltas), run by an engine (``engines``:
  ``engine_local`` threads or ``engine_ray``); only per-image numbers are kept (``predictions``);
- ``skin_tone``: the groupings from the skin-tone table and the manifest;
- ``ladder``: the skin and lesion masks, the perturbed images, what each variant achieved;
- ``analysis``: the metrics (``harness.metrics``);
- ``gradcam``: heatmaps, attention and their drift, on images read again (``revisit``);
- ``thumbnails`` and ``write``: the run directory.

``timer`` and ``cached`` are what the stages share: seconds per stage, progress bars, per-image
measures kept in the cache.
"""
