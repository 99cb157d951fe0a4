"""Models: open any supported format, read its sidecar, interpret its outputs, predict (cached)."""
