"""Deep Learning Playground: the library behind the Streamlit app (never imports streamlit)."""

__version__ = "0.1.0"
