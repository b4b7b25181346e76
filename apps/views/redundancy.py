"""Redundancy: launch a data redundancy + distillation study as a background job and read its report."""

from __future__ import annotations

import re
import time
from pathlib import Path

import streamlit as st

from core.errors import FvwError
from core.jobs import FINAL_STATES, JobRegistry
from core.paths import runs_dir
from core.redundancy import BACKBONES, studio_command, study_command

KIND = "redundancy"
_IMAGE_LINE = re.compile(r"^!\[[^\]]*\]\(([^)]+)\)\s*$", re.MULTILINE)

st.title("Redundancy study")
st.caption(
    "How many input pixels does a classifier need? Trains on degraded images (tiling), masks the first "
    "convolution, estimates the redundancy, then distils a lighter student. Runs as a background job: "
    "`python -m core.redundancy study --data DIR --out OUT/`."
)

registry = JobRegistry(runs_dir())

with st.form("study"):
    data = st.text_input(
        "Image folder (one sub-folder per class)", value=st.session_state.get("red-data", "")
    )
    c1, c2, c3 = st.columns(3)
    names = list(BACKBONES)
    backbone = c1.selectbox("Backbone", names, index=names.index("vgg_small"), help="vgg16_bn is for GPUs")
    size = c2.number_input("Input size (px)", value=48, min_value=8, step=8)
    device = c3.selectbox("Device", ["auto", "cpu", "cuda"])
    c4, c5, c6 = st.columns(3)
    folds = c4.number_input("Folds", value=3, min_value=2, step=1)
    repeats = c5.number_input("Repeats", value=1, min_value=1, step=1)
    epochs = c6.number_input("Epochs", value=12, min_value=1, step=1)
    start = st.form_submit_button("Start study", type="primary")
    render = st.form_submit_button("Render studio head crops into this folder first")

if start or render:
    folder = Path(data).expanduser()
    try:
        if not data.strip():
            st.error(
                "Enter an image folder: one sub-folder per class, or render studio crops into a new one."
            )
        elif render:
            job = registry.launch(studio_command(str(folder)), name=f"studio crops: {folder.name}", kind=KIND)
            st.success(f"Started job {job.id}: rendering head crops into {folder}")
        elif not folder.is_dir():
            st.error(f"{folder} is not a folder; render studio crops into it first or pick another one.")
        else:
            cmd = study_command(
                str(folder), backbone=backbone, size=int(size), folds=int(folds), repeats=int(repeats),
                epochs=int(epochs), device=device,
            )  # fmt: skip
            job = registry.launch(cmd, name=f"redundancy study: {folder.name}", kind=KIND)
            st.success(f"Started job {job.id}")
    except FvwError as e:
        st.error(str(e))


def _show_report(run_dir: Path) -> None:
    text = (run_dir / "report.md").read_text(encoding="utf-8", errors="replace")
    images = _IMAGE_LINE.findall(text)
    st.markdown(_IMAGE_LINE.sub("", text))
    for name in images:
        path = (run_dir / name).resolve()
        if path.is_file() and path.parent == run_dir.resolve():  # only plots written beside the report
            st.image(str(path), caption=name)


@st.fragment(run_every=3.0)
def _jobs() -> None:
    jobs = [j for j in registry.list() if j.kind == KIND]
    if not jobs:
        st.info("No redundancy studies yet.")
        return
    for job in jobs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created))
        with st.expander(f"{job.name} · {job.status} · {started} · {job.id}", expanded=job is jobs[0]):
            if job.status not in FINAL_STATES:
                st.progress(job.fraction, text=str(job.progress.get("message", f"{job.fraction:.0%}")))
            if job.error:
                st.error(job.error)
            if (job.run_dir / "report.md").is_file():
                _show_report(job.run_dir)
            else:
                st.code(job.log_tail(20) or "(no output yet)", language="text")
            if job.status not in FINAL_STATES and st.button("Cancel", key=f"cancel-{job.id}"):
                registry.cancel(job.id)
                st.rerun()


st.subheader("Studies")
_jobs()
