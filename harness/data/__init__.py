"""Load and validate a dataset (class folders or a CSV manifest) and decode its images."""
