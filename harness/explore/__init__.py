"""``harness explore``: a Streamlit app for one photograph, or one run, at a time.

``photo`` answers one photograph with the audit's own code and ``run_view`` reads one run
directory; neither imports Streamlit. ``pictures`` draws the overlays. The pages
(``page_photo``, ``page_run``) only lay out what those return; ``app`` is the script Streamlit
runs, ``server`` starts it.
"""
