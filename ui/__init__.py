"""Streamlit-side helpers shared by the pages: session state, cached resources, the sidebar.

Everything that computes lives in ``playground/``; this package only connects it to Streamlit.
"""
