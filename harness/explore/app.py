"""The script Streamlit runs for ``harness explore``; its options follow ``--``.

``streamlit run harness/explore/app.py -- --model M [--run RUN_DIR]`` is what
``python -m harness explore`` starts (in-process, with the server options it sets).
"""
import sys

from harness.explore.page import app_options, render

render(**app_options(sys.argv[1:]))
