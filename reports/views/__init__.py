"""The report's view layer: one module per report section, each turning the part of
``results.json`` (and ``samples.csv``) it needs into a plain dict of strings.

Views only read: every number, finding and image selection they show was written by the pipeline
(``findings`` included); they format it through :mod:`reports.fmt` and decide nothing else.
``reports.render.build_context`` assembles the sections; ``common`` holds what several share.
"""
