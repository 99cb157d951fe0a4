"""DermaTrace: audit skin-image classifiers for fairness across skin tones and robustness to the
ways clinical photographs vary."""

__version__ = "0.1.0"
