"""Explanations: Grad-CAM heatmaps, their drift under perturbation, attention shares, overlays."""
