"""Models: every checkpoint with its model card and metrics, side-by-side comparison, the search app's model.

The choice is written to ``<models>/selected.json`` (``{"segmenter": "<path relative to models/>"}``,
see ``core.datasets.selection``). Predictions for the comparison come from ``core.segment`` when it is
importable; tests inject a loader through ``st.session_state["_fvw_model_loader"]``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.datasets import list_photos, overlay, read_photo, select_model, selected_model
from core.errors import FvwError
from core.inventory import find_datasets, find_models, is_segmenter_name
from core.labelling.session import load_proposal_model
from core.paths import annotations_dir, models_dir

st.title("Models")
state = st.session_state
root = models_dir()
models = find_models(root)
if not models:
    st.info(f"No checkpoints in {root} yet: train one on the Train page.")
    st.stop()

try:
    chosen = selected_model(root)
except FvwError as e:
    st.error(str(e))
    chosen = None

rows = []
for m in models:
    row: dict[str, object] = {"model": m.name, "size (MB)": round(m.size_bytes / 1e6, 2)}
    row |= {k: v for k, v in m.metrics.items() if isinstance(v, int | float | str)}
    row["search uses it"] = "✅" if chosen is not None and m.path.resolve() == chosen else ""
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True)

st.subheader("Segmenter used by the search app")
names = [m.name for m in models]
segmenters = [m for m in models if is_segmenter_name(m.name)]
if not segmenters:
    st.info("No segmenter checkpoint (a file name containing 'seg') to choose from.")
else:
    default = root / "segmenter" / "segmenter.safetensors"
    in_use = chosen or (default.resolve() if default.is_file() else None)
    current = next((i for i, m in enumerate(segmenters) if m.path.resolve() == in_use), 0)
    pick = st.selectbox("Checkpoint", [m.name for m in segmenters], index=current, key="models_pick")
    if st.button("Use for search", key="models_use", type="primary"):
        try:
            path = select_model(root, next(m.path for m in segmenters if m.name == pick))
            st.success(f"The search app uses {pick} from its next start (saved in {path})")
        except FvwError as e:
            st.error(str(e))

st.subheader("Model cards")
for m in models:
    with st.expander(m.name):
        st.markdown(m.card or "_No model card (add a Markdown file next to the checkpoint)._")
        if m.metrics:
            st.json(m.metrics)

st.subheader("Compare two models")
c1, c2 = st.columns(2)
a_name = c1.selectbox("Model A", names, index=0, key="cmp_a")
b_name = c2.selectbox("Model B", names, index=min(1, len(names) - 1), key="cmp_b")
a, b = (next(m for m in models if m.name == n) for n in (a_name, b_name))
keys = sorted(set(a.metrics) | set(b.metrics))
b_col = b_name if b_name != a_name else f"{b_name} (B)"
if keys:
    st.dataframe(
        pd.DataFrame(
            {
                "metric": keys,
                a_name: [str(a.metrics.get(k, "—")) for k in keys],
                b_col: [str(b.metrics.get(k, "—")) for k in keys],
            }
        ),
        hide_index=True,
    )

loader = state.get("_fvw_model_loader")
if loader is None and importlib.util.find_spec("core.segment") is not None:
    loader = load_proposal_model
if loader is None:
    st.info("Side-by-side predictions need the project segmenter (core.segment) in this checkout.")
    st.stop()

datasets = find_datasets(annotations_dir())
if not datasets:
    st.info("No dataset to compare on: label or generate photos first.")
    st.stop()
ds = st.selectbox("Photos from", [str(d.path) for d in datasets], key="cmp_ds")
n = st.slider("Photos", 1, 8, 3, key="cmp_n")
if st.button("Compare", key="cmp_go"):
    photos = [it for it in list_photos(Path(ds))][:n]
    cols = st.columns(2)
    for col, m in zip(cols, (a, b), strict=True):
        col.markdown(f"**{m.name}**")
        try:
            model = loader(m.path, device="auto")
        except FvwError as e:
            col.error(f"{m.name}: {e}")
            continue
        for it in photos:
            try:
                img = read_photo(it.image_path)
                prob = np.asarray(model.probability(img), np.float32)
                col.image(
                    overlay(img, [], mask=prob > 0.5),
                    caption=f"{it.name} · {float((prob > 0.5).mean()):.1%} object",
                )
            except FvwError as e:
                col.error(f"{it.name}: {e}")
