"""One audit as a straight line of stages (``audit.run_audit``), one module per stage, in order:

- ``inputs``: open the model (``model_stage``) and load & validate the dataset (``data_stage``);
- ``skin_tone``: each clean image's skin tone and group, and the label groupings;
- ``ladder``: the skin and lesion masks, the perturbed images, what each variant achieved;
- ``predictions``: the model on the clean images and on every variant (cached);
- ``analysis``: the metrics (``harness.metrics``);
- ``gradcam``: heatmaps, attention and their drift under perturbation;
- ``thumbnails`` and ``write``: the run directory.

``timer`` and ``cached`` are what the stages share: seconds per stage, progress bars, per-image
measures kept in the cache.
"""
