"""Datasets: counts per class and attribute, thumbnails with masks, filters, split, COCO export, synthesis.

Thin over ``core.datasets`` (counts, split, thumbnails), ``core.annotation.export_coco`` and ``core.jobs``
(studio photo generation runs as a background job, like on the Train page).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.annotation import export_coco, load_label_file
from core.datasets import (
    SUBSETS,
    dataset_stats,
    filter_photos,
    list_photos,
    load_split,
    make_split,
    read_photo,
    save_split,
    thumbnail,
)
from core.errors import FvwError
from core.inventory import find_datasets
from core.jobs import JobRegistry, available_templates
from core.paths import annotations_dir, runs_dir

st.title("Datasets")
state = st.session_state

datasets = find_datasets(annotations_dir())
choices = [str(d.path) for d in datasets]
c1, c2 = st.columns(2)
picked = c1.selectbox("Dataset", choices, index=0 if choices else None, placeholder="none found")
typed = c2.text_input("…or a folder path", key="ds_folder")
root_text = typed or picked
if not root_text:
    st.info(
        f"No dataset under {annotations_dir()} yet: label photos on the Label page or generate some below."
    )
    root = None
else:
    root = Path(root_text)

if root is not None:
    try:
        items = list_photos(root)
        stats = dataset_stats(root, items)
    except FvwError as e:
        st.error(str(e))
        st.stop()

    m = st.columns(4)
    m[0].metric("Photos", stats.photos)
    m[1].metric("Labelled", stats.done)
    m[2].metric("Shapes", sum(stats.per_class.values()))
    m[3].metric("Broken files", len(stats.broken))
    for path, err in stats.broken:
        st.warning(f"{Path(path).name}: {err}")

    t_counts, t_photos, t_split, t_export = st.tabs(["Counts", "Photos", "Split", "Export"])
    with t_counts:
        if stats.per_class:
            st.subheader("Shapes per class")
            st.bar_chart(pd.Series(stats.per_class, name="shapes"))
            st.dataframe(
                pd.DataFrame({"class": list(stats.per_class), "shapes": list(stats.per_class.values())})
            )
        else:
            st.info("No labelled shapes yet.")
        for attr, counter in sorted(stats.per_attribute.items()):
            st.subheader(f"Shapes per {attr}")
            st.bar_chart(pd.Series(dict(counter.most_common()), name="shapes"))

    with t_photos:
        f1, f2, f3 = st.columns(3)
        status = f1.selectbox("Status", ["", "done", "todo", "broken"], key="ds_status")
        label = f2.selectbox("Class", ["", *sorted(stats.per_class)], key="ds_class")
        attr_opts = ["", *(f"{a}={v}" for a, c in sorted(stats.per_attribute.items()) for v in sorted(c))]
        attr = f3.selectbox("Attribute", attr_opts, key="ds_attr")
        attribute = tuple(attr.split("=", 1)) if attr else None
        shown = filter_photos(items, status=status or None, label=label or None, attribute=attribute)  # type: ignore[arg-type]
        st.caption(f"{len(shown)} of {len(items)} photos match")
        cols = st.columns(4)
        for i, it in enumerate(shown[:24]):
            col = cols[i % 4]
            try:
                img = read_photo(it.image_path)  # full size: shapes are in its pixel grid
                shapes = load_label_file(it.json_path).shapes if it.status == "done" else []
                col.image(thumbnail(img, shapes, 256), caption=f"{it.name} · {it.n_shapes} shapes")
            except FvwError as e:
                col.error(f"{it.name}: {e}")

    with t_split:
        current = load_split(root) if (root / "split.json").is_file() else None
        if current:
            st.write({k: len(v) for k, v in current.items()})
        s1, s2, s3 = st.columns(3)
        train = s1.slider("train", 0.0, 1.0, 0.8, 0.05, key="ds_train")
        val = s2.slider("val", 0.0, 1.0 - train, min(0.1, 1.0 - train), 0.05, key="ds_val")
        seed = s3.number_input("seed", 0, 10_000, 0, key="ds_seed")
        st.caption(f"test = {1.0 - train - val:.2f}; photos already in a subset keep it")
        if st.button("Save split", key="ds_save_split"):
            try:
                names = [it.name for it in items if it.status == "done"]
                split = make_split(names, (train, val, max(0.0, 1.0 - train - val)), int(seed), current)
                path = save_split(root, split, int(seed))
                st.success(f"Saved {path}: " + ", ".join(f"{k} {len(split[k])}" for k in SUBSETS))
            except FvwError as e:
                st.error(str(e))

    with t_export:
        out = st.text_input("COCO file", str(root / "coco.json"), key="ds_coco")
        if st.button("Export COCO", key="ds_export"):
            try:
                summary = export_coco(root, out, skip_errors=True)
                st.success(
                    f"Wrote {out}: {summary.images} images, {summary.annotations} annotations, "
                    f"{summary.categories} categories"
                )
                for err in summary.errors:
                    st.warning(err)
            except FvwError as e:
                st.error(str(e))

# ---- synthetic photos from the studio (a background job) ------------------------------------------------
st.divider()
st.subheader("Generate studio photos")
template = next((t for t in available_templates() if t.name == "studio_photos"), None)
registry = JobRegistry(runs_dir())
if template is None:
    st.info("The photo studio (core.synth) is not in this checkout yet.")
else:
    values = {}
    g = st.columns(len(template.options))
    for col, opt in zip(g, template.options, strict=True):
        key = f"synth-{opt.name}"
        if opt.choices:
            values[opt.name] = col.selectbox(opt.name, opt.choices, key=key, help=opt.help)
        elif isinstance(opt.default, int):
            values[opt.name] = col.number_input(opt.name, value=opt.default, step=1, key=key, help=opt.help)
        else:
            values[opt.name] = col.text_input(opt.name, value=str(opt.default), key=key, help=opt.help)
    try:
        command = template.command(values)
        st.code(" ".join(command), language="bash")
        if st.button("Generate", key="synth_go", type="primary"):
            job = registry.launch(command, name=template.name, kind="data")
            st.success(f"Started job {job.id}; it also shows on the Train page")
    except FvwError as e:
        st.error(str(e))


@st.fragment(run_every=3.0)
def _data_jobs() -> None:
    jobs = [j for j in registry.list(limit=20) if j.kind == "data"]
    for job in jobs[:5]:
        st.write(f"**{job.name}** · {job.status} · {job.fraction:.0%} · {job.id}")
        if job.error:
            st.error(f"{job.name} failed: {job.error}")
            st.code(job.log_tail(10) or "(no output)", language="text")


_data_jobs()
