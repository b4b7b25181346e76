"""Texture: structure / texture decomposition of a photo, models trained with k * shape + (1 - k) * texture.

Thin over ``core.texture``: pick a photo, see image | structure | texture; move k to see the model trained
nearest that k, its Grad-CAM beside the two extremes, and the metric curves vs k; launch a sweep as a job.
Sweeps are read from ``<models>/texture/*`` (``FVW_MODELS``) and from finished jobs in ``<runs>``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import FvwError
from core.imageio import read_image
from core.paths import models_dir, repo_root, runs_dir

METRICS = ("accuracy", "structure_only_accuracy", "texture_only_accuracy", "shape_bias")
SAMPLES = repo_root() / ".." / "shared" / "data" / "cue-conflict" / "cue-conflict"


@st.cache_data(max_entries=16, show_spinner="Decomposing...")
def _decompose(key: str, image: np.ndarray, method: str, params: tuple) -> tuple[np.ndarray, np.ndarray]:
    from core.texture import decompose, texture_to_uint8

    dec = decompose(image, method, **dict(params))
    return (dec.structure.clip(0, 1) * 255 + 0.5).astype(np.uint8), texture_to_uint8(dec.texture)


@st.cache_resource(max_entries=8)
def _model(path: str, mtime: float):
    from core.texture.model import load_model

    return load_model(path)


def _photo() -> tuple[str, np.ndarray] | None:
    samples = sorted(SAMPLES.glob("*/*.jpg"))[::40] if SAMPLES.is_dir() else []
    up = st.file_uploader("Photo", type=["jpg", "jpeg", "png", "webp"])
    if up is not None:
        data = up.getvalue()
        return hashlib.sha1(data).hexdigest(), read_image(data, downscale_to=256)
    if not samples:
        st.info("Upload a photo to start.")
        return None
    pick = st.selectbox("or a cue-conflict sample", [p.name for p in samples])
    path = next(p for p in samples if p.name == pick)
    return str(path), read_image(path, downscale_to=256)


def _params(method: str) -> dict[str, float | int | str]:
    c1, c2, c3 = st.columns(3)
    if method == "rtv":
        return {
            "lam": c1.slider("lambda", 0.001, 0.1, 0.01, 0.001, format="%.3f"),
            "sigma": c2.slider("sigma (px)", 0.5, 8.0, 3.0, 0.5),
            "iterations": c3.slider("iterations", 1, 8, 4),
            "device": "auto",
        }
    if method == "l0":
        return {"lam": c1.slider("lambda", 0.001, 0.2, 0.02, 0.001, format="%.3f")}
    if method == "rolling":
        return {"sigma_space": c1.slider("sigma space", 0.5, 10.0, 3.0, 0.5), "iterations": c2.slider("iterations", 1, 8, 4)}  # fmt: skip
    return {"fr": c1.slider("radius", 1, 10, 3), "iterations": c2.slider("iterations", 1, 5, 1)}


def _cam(path: Path, image: np.ndarray) -> np.ndarray:
    from PIL import Image
    from pytorch_grad_cam.utils.image import show_cam_on_image

    from core.texture.model import gradcam

    model, classes, extra = _model(str(path), path.stat().st_mtime)
    size = int(extra.get("size", 48))
    small = np.asarray(Image.fromarray(image).resize((size, size)), np.float32) / 255.0
    heat = gradcam(model, small)
    from core.texture.model import predict

    top = classes[int(predict(model, small).argmax())]
    big = np.asarray(Image.fromarray(image).resize((192, 192)), np.float32) / 255.0
    heat_big = (
        np.asarray(Image.fromarray((heat * 255).astype(np.uint8)).resize((192, 192)), np.float32) / 255.0
    )
    st.session_state.setdefault("_tops", {})[str(path)] = top
    return show_cam_on_image(big, heat_big, use_rgb=True)


def _curves(res, k: float, near: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cur = res.curves(METRICS)
    fig, ax = plt.subplots(figsize=(6, 3))
    for m in METRICS:
        ax.plot(cur["k"], cur[m], marker="o", label=m)
    ax.axvline(k, color="k", ls="--", lw=1, label=f"k = {k:.2f} (model k = {near:.2f})")
    ax.set_xlabel("k (weight of the shape label)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    st.pyplot(fig)
    plt.close(fig)


def _sweep_section(image: np.ndarray | None) -> None:
    from core.texture.results import find_sweeps, load_sweep

    folders = find_sweeps(models_dir() / "texture", runs_dir())
    if not folders:
        st.info("No sweep yet: run `python -m core.texture sweep` or start one below.")
        return
    choice = st.selectbox("Sweep", [str(f) for f in folders])
    res = load_sweep(choice)
    k = st.slider("k", 0.0, 1.0, 0.5, 0.05)
    near, ckpt = res.checkpoint_for_k(k)
    st.caption(f"Nearest trained model: k = {near:.2f} ({ckpt.name})")
    if image is not None:
        lo, hi = res.k_rows()[0]["k"], res.k_rows()[-1]["k"]
        cols = st.columns(3)
        for col, (label, kk) in zip(cols, [("texture extreme", lo), ("current", near), ("shape extreme", hi)], strict=True):  # fmt: skip
            path = res.checkpoint_for(f"k={float(kk):.2f}")
            col.image(
                _cam(path, image),
                caption=f"{label}: k = {float(kk):.2f} → {st.session_state['_tops'][str(path)]}",
            )
    _curves(res, k, near)
    table = pd.DataFrame(res.table)
    st.dataframe(table[["model", "seeds", *[m for m in METRICS if m in table], "clean_accuracy"]])


def _launch_section() -> None:
    from core.jobs import JobRegistry
    from core.texture.jobs import SWEEP_TEMPLATE

    with st.expander("Launch a sweep as a job"):
        values = {
            o.name: st.selectbox(o.name, o.choices, help=o.help)
            if o.choices
            else st.text_input(o.name, str(o.default), help=o.help)
            for o in SWEEP_TEMPLATE.options
        }
        if st.button("Start sweep"):
            command = SWEEP_TEMPLATE.command(values)
            job = JobRegistry(runs_dir()).launch(command, name=SWEEP_TEMPLATE.name, kind=SWEEP_TEMPLATE.kind)
            st.success(f"Started job {job.id}; follow it on the Train page. Its folder: {job.run_dir}")


st.title("Structure and texture")
image = None
try:
    picked = _photo()
    if picked is not None:
        key, image = picked
        method = st.selectbox("Method", ["rtv", "l0", "rolling", "bilateral_texture"])
        params = _params(method)
        structure, texture = _decompose(key, image, method, tuple(sorted(params.items())))
        c1, c2, c3 = st.columns(3)
        c1.image(image, caption="image")
        c2.image(structure, caption="structure")
        c3.image(texture, caption="texture (0.5 + 2 x layer)")
    st.header("Models vs k")
    _sweep_section(image)
    _launch_section()
except FvwError as e:
    st.error(str(e))
