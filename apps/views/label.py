"""Label: mask labelling sessions — click the object, get a polygon, autosaved as labelme JSON.

Thin over ``core.labelling.session`` (prompts, undo/redo, polygons, autosave with merge) and
``core.datasets`` (folders, statuses). Tests inject a backend through ``st.session_state["_fvw_backend"]``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from core.catalog import ATTRIBUTE_NAMES, ATTRIBUTES, display_name
from core.datasets import import_photos, list_photos, next_unlabelled, overlay, read_photo
from core.errors import FvwError
from core.interactive import EmbeddingCache
from core.inventory import find_datasets
from core.labelling.session import CLASSES, LabelSession, SessionDefaults, make_backend, segmenter_checkpoint
from core.paths import annotations_dir, models_dir

st.title("Label")
state = st.session_state
ICONS = {"done": "✅", "todo": "⬜", "broken": "⚠️"}


@st.cache_resource(show_spinner="Loading the mask model…")
def _shared_backend(name: str, checkpoint: str) -> object:
    """One backend object per (name, checkpoint) for all sessions; backends are thread-safe."""
    return make_backend(name, checkpoint=checkpoint or None)


def _fail(e: Exception) -> None:
    state["label_error"] = str(e)


# ---- dataset -------------------------------------------------------------------------------------------
datasets = find_datasets(annotations_dir())
with st.sidebar:
    st.subheader("Dataset")
    choices = [str(d.path) for d in datasets]
    picked = st.selectbox("Dataset folder", choices, index=0 if choices else None, placeholder="none found")
    typed = st.text_input("…or a folder path", key="label_folder", placeholder="/path/to/photos")
    with st.expander("Import a folder of photos"):
        st.text_input("Photos folder", key="import_src")
        st.text_input("New dataset folder", key="import_dst", value=str(annotations_dir() / "new"))

        def _import() -> None:
            try:
                n = len(import_photos(state["import_src"], state["import_dst"]))
                state["label_notice"] = f"Imported {n} photos into {state['import_dst']}"
                state["label_folder"] = state["import_dst"]
            except FvwError as e:
                _fail(e)

        st.button("Import", key="import_btn", on_click=_import)
    st.subheader("Mask backend")
    options = ["offline", "sam"]
    seg_ckpt = segmenter_checkpoint(models_dir())
    if seg_ckpt is not None:
        options.append("segmenter")
    backend_name = st.radio(
        "Backend",
        options,
        format_func={
            "offline": "Offline (no weights)",
            "sam": "SAM checkpoint",
            "segmenter": "Our segmenter",
        }.get,
        help="Offline always works; SAM needs a sam_vit_b/l/h .pth file; our segmenter appears when trained.",
    )
    ckpt = ""
    if backend_name == "sam":
        ckpt = st.text_input(
            "SAM checkpoint file", key="sam_ckpt", placeholder="/path/to/sam_vit_b_01ec64.pth"
        )
    elif backend_name == "segmenter":
        ckpt = str(seg_ckpt)

root_text = typed or picked
if not root_text:
    st.info("No dataset yet: type a folder of photos in the sidebar, or import one.")
    st.stop()
root = Path(root_text)
try:
    items = list_photos(root)
except FvwError as e:
    st.error(str(e))
    st.stop()
if not items:
    st.warning(f"{root} holds no photos; import some from the sidebar.")
    st.stop()

# ---- backend (shared) and embedding cache (this session only) ---------------------------------------------
backend = state.get("_fvw_backend")
if backend is None:
    if backend_name != "offline" and not ckpt:
        st.warning("Give the checkpoint file in the sidebar; using the offline backend meanwhile.")
        backend_name = "offline"
    try:
        backend = _shared_backend(backend_name, ckpt)
    except FvwError as e:
        st.error(f"{e} — using the offline backend instead.")
        backend = _shared_backend("offline", "")
cache = state.get("label_cache")
if cache is None or cache.backend is not backend:
    cache = state["label_cache"] = EmbeddingCache(backend, capacity=6)

# ---- photo list ------------------------------------------------------------------------------------------
n_done = sum(it.status == "done" for it in items)
n_broken = sum(it.status == "broken" for it in items)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Photos", len(items))
c2.metric("Done", n_done)
c3.metric("To do", len(items) - n_done - n_broken)
c4.metric("Broken files", n_broken)
names = [str(it.image_path) for it in items]
if state.get("label_photo") not in names:
    first = next_unlabelled(items)
    state["label_photo"] = str((first or items[0]).image_path)


def _go_next() -> None:
    nxt = next_unlabelled(list_photos(root), after=Path(state["label_photo"]))
    if nxt is None:
        state["label_notice"] = "Every photo is labelled."
    else:
        state["label_photo"] = str(nxt.image_path)


by_name = {str(it.image_path): it for it in items}
left, right = st.columns([3, 1])
left.selectbox(
    "Photo",
    names,
    key="label_photo",
    format_func=lambda n: f"{ICONS[by_name[n].status]} {Path(n).name} ({by_name[n].n_shapes} shapes)",
)
right.button("Next unlabelled ⏭", on_click=_go_next, use_container_width=True)
if notice := state.pop("label_notice", None):
    st.info(notice)

item = by_name[state["label_photo"]]
try:
    image = read_photo(item.image_path)
except FvwError as e:
    st.error(f"{e} — skip it with “Next unlabelled” or replace the file.")
    st.stop()

# ---- session -----------------------------------------------------------------------------------------------
sess: LabelSession | None = state.get("label_session")
if sess is None or sess.image_path != item.image_path or sess.root != root:
    defaults = sess.defaults if sess is not None else SessionDefaults()
    sess = state["label_session"] = LabelSession(root, item.image_path, defaults)
try:
    emb = cache.get(str(item.image_path), lambda: image)
except FvwError as e:
    st.error(str(e))
    st.stop()
sess.attach(backend, emb)  # type: ignore[arg-type]
idx = names.index(str(item.image_path))
if idx + 1 < len(names):  # embed the next photo while this one is labelled
    nxt_path = Path(names[idx + 1])
    cache.prefetch(str(nxt_path), lambda: read_photo(nxt_path))

if sess.error:
    st.error(sess.error)


def _do(fn, *args) -> None:  # noqa: ANN001 - a callback wrapper
    try:
        fn(*args)
    except FvwError as e:
        _fail(e)


with st.sidebar:
    st.subheader("Object")
    st.radio("Class", CLASSES, index=CLASSES.index(sess.label), key=f"cls-{item.name}", horizontal=True,
             on_change=lambda: _do(sess.set_label, state[f"cls-{item.name}"]))  # fmt: skip
    if sess.label == "screw":
        for attr in ATTRIBUTE_NAMES:
            vals = ["", *ATTRIBUTES[attr]]
            cur = sess.attributes.get(attr, "")
            k = f"attr-{attr}-{item.name}"
            st.selectbox(attr.capitalize(), vals, index=vals.index(cur), key=k,
                         format_func=lambda v: display_name(v) if v else "—",
                         on_change=lambda a=attr, k=k: _do(sess.set_attribute, a, state[k]))  # fmt: skip
    st.subheader("Polygon")
    pol = ["largest", "all", "holes"]
    st.radio("Parts", pol, index=pol.index(sess.policy), key=f"pol-{item.name}", horizontal=True,
             help="largest: one polygon; all: every part; holes: parts and their holes",
             on_change=lambda: _do(sess.set_polygon, state[f"pol-{item.name}"], None))  # fmt: skip
    st.slider("Tolerance (px)", 0.0, 5.0, sess.tolerance, 0.25, key=f"tol-{item.name}",
              on_change=lambda: _do(sess.set_polygon, None, state[f"tol-{item.name}"]))  # fmt: skip

mode = st.radio(
    "Prompt", ["Positive click", "Negative click", "Box (drag)"], horizontal=True, key="label_mode"
)
b1, b2, b3, b4 = st.columns(4)
b1.button("↶ Undo", on_click=lambda: _do(sess.undo), disabled=not sess.history.can_undo)
b2.button("↷ Redo", on_click=lambda: _do(sess.redo), disabled=not sess.history.can_redo)
b3.button("✔ New object", on_click=lambda: _do(sess.new_object), disabled=not sess.live)
b4.button("Next unlabelled", key="next2", on_click=_go_next)

h, w = image.shape[:2]
disp_w = min(960, max(w, 720))  # small photos are shown larger; clicks are rescaled
pts = [(x, y, lab) for (x, y), lab in zip(sess.prompt.points, sess.prompt.labels, strict=True)]
shown = overlay(image, [*sess.shapes, *sess.live], mask=sess.mask, points=pts)
event = streamlit_image_coordinates(
    shown,
    width=disp_w,
    key=f"img-{mode}-{item.name}",
    click_and_drag=mode.startswith("Box"),
    cursor="crosshair",
)
if event and event.get("unix_time") != state.get("label_last_event"):
    state["label_last_event"] = event.get("unix_time")
    sx, sy = w / max(1, event["width"]), h / max(1, event["height"])
    try:
        if "x1" in event:
            xs = sorted((event["x1"] * sx, event["x2"] * sx))
            ys = sorted((event["y1"] * sy, event["y2"] * sy))
            if xs[1] - xs[0] >= 2 and ys[1] - ys[0] >= 2:
                sess.set_box((max(0, xs[0]), max(0, ys[0]), min(w, xs[1]), min(h, ys[1])))
        else:
            sess.click(
                (min(w - 1, event["x"] * sx), min(h - 1, event["y"] * sy)), mode.startswith("Positive")
            )
    except FvwError as e:
        _fail(e)
    st.rerun()

with st.expander("Type a click (pixel coordinates)"):
    st.number_input("x", 0, w - 1, w // 2, key="manual_x")
    st.number_input("y", 0, h - 1, h // 2, key="manual_y")
    m1, m2 = st.columns(2)
    m1.button(
        "Add positive click", on_click=lambda: _do(sess.click, (state["manual_x"], state["manual_y"]), True)
    )
    m2.button(
        "Add negative click", on_click=lambda: _do(sess.click, (state["manual_x"], state["manual_y"]), False)
    )

if err := state.pop("label_error", None):
    st.error(err)
st.caption(
    f"{len(sess.shapes) + len(sess.live)} shapes · autosaved to {sess.json_path.name} ({sess.saves} saves)"
)
for i, s in enumerate(list(sess.shapes)):
    attrs = ", ".join(f"{k}={v}" for k, v in s.extra.get("attributes", {}).items())
    c_a, c_b = st.columns([5, 1])
    c_a.write(f"{i + 1}. **{s.label}** {attrs} · {len(s.points)} points")
    c_b.button("Delete", key=f"del-{i}-{item.name}", on_click=lambda i=i: _do(sess.delete_shape, i))
