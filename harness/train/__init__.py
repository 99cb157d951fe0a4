"""Training the DermaTrace classifier: recipes, backbone, cached features, validation."""
