"""Home: the datasets and models the workbench found on disk."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.errors import FvwError
from core.inventory import find_datasets, find_models
from core.paths import annotations_dir, models_dir

st.title("Fastener Vision Workbench")
st.caption("Find a screw in a catalog from one phone photo; train vision models with less data and compute.")

ann, mod = annotations_dir(), models_dir()

# First start: render the small embedded default dataset so every page has photos to show (< 30 s).
if not find_datasets(ann) and not os.environ.get("FVW_NO_DEFAULT_DATASET"):
    from core.synth.dataset import ensure_default_dataset

    with st.spinner("First start: rendering the embedded default dataset (48 studio photos)..."):
        try:
            ensure_default_dataset(ann / "synthetic-default")
        except FvwError as e:
            st.error(f"Could not render the default dataset: {e}")

st.subheader("Datasets")
datasets = find_datasets(ann)
if datasets:
    st.dataframe(
        pd.DataFrame(
            [
                {"dataset": d.name, "photos": d.n_photos, "labelled": d.n_labelled, "folder": str(d.path)}
                for d in datasets
            ]
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info(
        f"No datasets under `{ann}` yet. Generate studio photos with `python -m core.synth --out {ann}/synthetic-v1`."
    )

st.subheader("Models")
models = find_models(mod)
if models:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "model": m.name,
                    "size (KB)": round(m.size_bytes / 1024, 1),
                    "card": "yes" if m.card else "no",
                }
                for m in models
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    for m in models:
        if m.card:
            with st.expander(f"Model card: {m.name}"):
                st.markdown(m.card)
else:
    st.info(f"No checkpoints under `{mod}` yet.")
