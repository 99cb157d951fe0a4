"""Perturbation ladders: physical, deterministic, measured.

Families (one module each): brightness_down/up and contrast_down/up in CIELAB L*, redness (a*
inside the skin region), blur (Gaussian sigma in px), skin_tone_darker/lighter (ITA), jpeg,
noise, white_balance_warm/cool, defocus_blur, motion_blur, ImageNet-C's parameters
(``imagenet_c_*``), and the dermoscopy artefacts hair, black_corners, gel_bubbles and ruler_marks
(SAM-C, MedMNIST-C; ``dermoscopy.py``). See :mod:`perturbations.registry` for the API.
"""
from perturbations.registry import (FAMILIES, SEVERITIES, Prepared, Variant, achieved, apply, families,
                                    image_seeds, ladder, load_preset, prepare, presets)

__all__ = ["FAMILIES", "SEVERITIES", "Prepared", "Variant", "achieved", "apply", "families", "image_seeds",
           "ladder", "load_preset", "prepare", "presets"]
