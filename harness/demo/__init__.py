"""The demo: synthetic skin photographs of known tone and the whole story, end to end."""
