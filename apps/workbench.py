"""Fastener Vision Workbench — Streamlit entry point (``streamlit run apps/workbench.py``).

One page per file under ``apps/views`` (not ``pages/``: Streamlit would also list that folder as a second, automatic navigation); pages stay thin over ``core``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:  # `streamlit run` puts apps/ on the path, not the repo root
    sys.path.insert(0, str(_REPO))

_PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="Fastener Vision Workbench", page_icon=":material/hardware:", layout="wide")

navigation = st.navigation(
    [
        st.Page(str(_PAGES / "home.py"), title="Home", icon=":material/home:", default=True),
        st.Page(str(_PAGES / "label.py"), title="Label", icon=":material/draw:"),
        st.Page(str(_PAGES / "datasets.py"), title="Datasets", icon=":material/folder_open:"),
        st.Page(str(_PAGES / "train.py"), title="Train", icon=":material/model_training:"),
        st.Page(str(_PAGES / "models.py"), title="Models", icon=":material/neurology:"),
        st.Page(str(_PAGES / "texture.py"), title="Structure / texture", icon=":material/texture:"),
        st.Page(str(_PAGES / "redundancy.py"), title="Redundancy", icon=":material/compress:"),
    ]
)
navigation.run()
