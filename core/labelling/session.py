"""One person labelling one photo: prompts with undo/redo, mask -> polygons, label and attributes, autosave.

The Label page only draws; everything it does goes through :class:`LabelSession`, so it is testable
without Streamlit. Every change (a click, a box, undo, redo, a new label or attribute, a new polygon
tolerance, a deleted shape) recomputes the object in progress and saves the photo's labelme JSON through
:func:`core.labelling.store.merged_save` (locked three-way merge, atomic write), so two sessions labelling
one dataset never lose each other's work.

Attributes (the catalog's head/finish/tip/thread) are stored per shape under the labelme-unknown key
``"attributes"``, which labelme and X-AnyLabeling carry through unchanged.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from core.annotation import LabelFile, Shape, load_label_file, mask_to_polygons
from core.catalog import ATTRIBUTE_NAMES, validate_value
from core.errors import AnnotationError, ConfigError, InputError
from core.interactive import Embedding, MaskBackend, Prompt
from core.labelling.store import merged_save, shape_key

__all__ = [
    "BACKENDS",
    "CLASSES",
    "LabelSession",
    "PolygonPolicy",
    "PromptHistory",
    "ProposalBackend",
    "SegmenterProposal",
    "load_proposal_model",
    "SessionDefaults",
    "make_backend",
    "segmenter_checkpoint",
]

CLASSES: tuple[str, ...] = ("screw", "coin")
PolygonPolicy = Literal["largest", "all", "holes"]
_POLICIES = ("largest", "all", "holes")


class PromptHistory:
    """An undo/redo stack of immutable prompts; the current prompt is the top of the undo side."""

    def __init__(self) -> None:
        self._stack: list[Prompt] = [Prompt()]
        self._pos = 0

    @property
    def current(self) -> Prompt:
        return self._stack[self._pos]

    @property
    def can_undo(self) -> bool:
        return self._pos > 0

    @property
    def can_redo(self) -> bool:
        return self._pos < len(self._stack) - 1

    def push(self, prompt: Prompt) -> None:
        """Make ``prompt`` current; anything that could have been redone is dropped."""
        del self._stack[self._pos + 1 :]
        self._stack.append(prompt)
        self._pos += 1

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._pos -= 1
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._pos += 1
        return True

    def reset(self) -> None:
        self._stack, self._pos = [Prompt()], 0


@dataclass(frozen=True)
class SessionDefaults:
    """What carries over from one photo to the next ("class first: preselect, keep last")."""

    label: str = "screw"
    attributes: tuple[tuple[str, str], ...] = ()
    policy: PolygonPolicy = "largest"
    tolerance: float = 1.0


def _check_label(label: str) -> str:
    if label not in CLASSES:
        raise InputError(f"unknown class {label!r}; valid: {', '.join(CLASSES)}", field="label")
    return label


class LabelSession:
    """The labelling state of one photo in one browser session.

    Args:
        dataset_root: the dataset folder (the lock for concurrent saves lives there).
        image_path: the photo; its label file is ``<stem>.json`` beside it.
        defaults: label, attributes and polygon settings carried over from the previous photo.

    A label file that fails to parse makes the session read-only: :attr:`error` says why and saving raises
    :class:`AnnotationError` instead of overwriting the file.
    """

    def __init__(
        self, dataset_root: str | Path, image_path: str | Path, defaults: SessionDefaults = SessionDefaults()
    ):
        self.root = Path(dataset_root)
        self.image_path = Path(image_path)
        self.json_path = self.image_path.with_suffix(".json")
        self.label = _check_label(defaults.label)
        self.attributes: dict[str, str] = {}
        for name, value in defaults.attributes:
            self.set_attribute(name, value, save=False)
        self.policy: PolygonPolicy = defaults.policy
        self.tolerance = float(defaults.tolerance)
        self.history = PromptHistory()
        self.error = ""
        self.base: list[Shape] = []
        self.shapes: list[Shape] = []  # finished objects (including other sessions' work after a save)
        self.live: list[Shape] = []  # polygons of the object in progress, saved like the others
        self.mask: NDArray[np.bool_] | None = None
        self.backend: MaskBackend | None = None
        self.embedding: Embedding | None = None
        self.saves = 0
        self._loaded: LabelFile | None = None
        if self.json_path.exists():
            try:
                self._loaded = load_label_file(self.json_path)
            except AnnotationError as e:
                self.error = f"{e} — the file is shown as broken and will not be overwritten"
            else:
                self.base = copy.deepcopy(self._loaded.shapes)
                self.shapes = copy.deepcopy(self._loaded.shapes)

    # ---- state --------------------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return bool(self.error)

    @property
    def defaults(self) -> SessionDefaults:
        return SessionDefaults(
            self.label, tuple(sorted(self.attributes.items())), self.policy, self.tolerance
        )

    @property
    def prompt(self) -> Prompt:
        return self.history.current

    def attach(self, backend: MaskBackend, embedding: Embedding) -> None:
        """Give the session the (shared) backend and this photo's embedding; needed before prompting."""
        self.backend, self.embedding = backend, embedding

    # ---- edits (each one autosaves) -------------------------------------------------------------------
    def click(self, xy: tuple[float, float], positive: bool = True) -> None:
        """Add a positive (object) or negative (background) click at pixel ``xy``."""
        emb = self._need_embedding()
        x, y = float(xy[0]), float(xy[1])
        if not (0 <= x < emb.width and 0 <= y < emb.height):
            raise InputError(f"click ({x:.0f}, {y:.0f}) is outside the {emb.width}x{emb.height} photo")
        self.history.push(self.prompt.add((x, y), 1 if positive else 0))
        self._refresh()

    def set_box(self, box: tuple[float, float, float, float] | None) -> None:
        """Set (or clear with None) the XYXY box around the object."""
        self._need_embedding()
        self.history.push(self.prompt.with_box(box))
        self._refresh()

    def undo(self) -> bool:
        done = self.history.undo()
        if done:
            self._refresh()
        return done

    def redo(self) -> bool:
        done = self.history.redo()
        if done:
            self._refresh()
        return done

    def set_label(self, label: str) -> None:
        self.label = _check_label(label)
        self._rebuild_live_and_save()

    def set_attribute(self, name: str, value: str | None, *, save: bool = True) -> None:
        """Set one catalog attribute of the object in progress (None or "" clears it)."""
        if name not in ATTRIBUTE_NAMES:
            raise InputError(f"unknown attribute {name!r}; valid: {', '.join(ATTRIBUTE_NAMES)}", field=name)
        if value:
            self.attributes[name] = validate_value(name, value)
        else:
            self.attributes.pop(name, None)
        if save:
            self._rebuild_live_and_save()

    def set_polygon(self, policy: str | None = None, tolerance: float | None = None) -> None:
        """Change how the mask becomes polygons (holes/multi-part policy, simplification tolerance)."""
        if policy is not None:
            if policy not in _POLICIES:
                raise InputError(f"unknown polygon policy {policy!r}; valid: {', '.join(_POLICIES)}")
            self.policy = policy  # type: ignore[assignment]
        if tolerance is not None:
            if tolerance < 0:
                raise InputError(f"tolerance must be >= 0 pixels, got {tolerance}")
            self.tolerance = float(tolerance)
        self._rebuild_live_and_save()

    def new_object(self) -> None:
        """Finish the object in progress (already saved) and start a new one with empty prompts."""
        self.shapes.extend(self.live)
        self.live, self.mask = [], None
        self.history.reset()

    def delete_shape(self, index: int) -> None:
        """Delete a finished shape (by its index in :attr:`shapes`) and save."""
        if not 0 <= index < len(self.shapes):
            raise InputError(f"no shape {index}; this photo has {len(self.shapes)}")
        del self.shapes[index]
        self.save()

    # ---- internals --------------------------------------------------------------------------------------
    def _need_embedding(self) -> Embedding:
        if self.embedding is None or self.backend is None:
            raise InputError("the photo has no embedding yet; call attach(backend, embedding) first")
        return self.embedding

    def _refresh(self) -> None:
        emb = self._need_embedding()
        assert self.backend is not None
        prompt = self.prompt
        self.mask = None if prompt.is_empty else self.backend.predict(emb, prompt)
        self._rebuild_live_and_save()

    def _group_id(self) -> int | None:
        used = [s.group_id for s in self.shapes if s.group_id is not None]
        return (max(used) + 1) if used else 1

    def _rebuild_live_and_save(self) -> None:
        previous, self.live = self.live, self._mask_shapes(self.mask)
        if previous or self.live:
            self.save()

    def _mask_shapes(self, mask: NDArray[np.bool_] | None) -> list[Shape]:
        if mask is None or not mask.any():
            return []
        polys = [p for p in mask_to_polygons(mask, self.policy, self.tolerance) if len(p) >= 3]
        if not polys:
            return []
        extra: dict[str, Any] = {}
        if self.label == "screw" and self.attributes:
            extra["attributes"] = dict(sorted(self.attributes.items()))
        group = self._group_id() if len(polys) > 1 else None
        return [
            Shape(self.label, [[float(x), float(y)] for x, y in poly], "polygon", group, extra=dict(extra))
            for poly in polys
        ]

    def _label_file(self, shapes: list[Shape]) -> LabelFile:
        h = self.embedding.height if self.embedding else (self._loaded.image_height if self._loaded else None)
        w = self.embedding.width if self.embedding else (self._loaded.image_width if self._loaded else None)
        rel = os.path.relpath(self.image_path, self.json_path.parent).replace(os.sep, "/")
        if self._loaded is not None:
            out = copy.copy(self._loaded)
            out.shapes, out.image_height, out.image_width = shapes, h, w
            return out
        return LabelFile(shapes=shapes, image_path=rel, image_height=h, image_width=w)

    def save(self) -> None:
        """Merge this session's shapes into the file on disk and write it atomically.

        Raises:
            AnnotationError: the label file on disk is broken (it is left untouched).
        """
        if self.read_only:
            raise AnnotationError(
                "the label file does not parse, so it is not overwritten; fix or move it, then reload",
                path=self.json_path,
            )
        mine = [*self.shapes, *self.live]
        base_by_key = {shape_key(s): s for s in self.base}
        # The merge identifies shapes by geometry; a shape whose attributes changed in place is removed
        # in a first save and added back in the second, otherwise the old attributes on disk would win.
        changed = {
            shape_key(s)
            for s in mine
            if shape_key(s) in base_by_key and _meta(base_by_key[shape_key(s)]) != _meta(s)
        }
        if changed:
            first = [s for s in mine if shape_key(s) not in changed]
            self.base = copy.deepcopy(
                merged_save(self.json_path, self.base, self._label_file(first), self.root).shapes
            )
        written = merged_save(self.json_path, self.base, self._label_file(mine), self.root)
        self._loaded = written
        self.base = copy.deepcopy(written.shapes)
        live_keys = {shape_key(s) for s in self.live}
        self.shapes = [copy.deepcopy(s) for s in written.shapes if shape_key(s) not in live_keys]
        self.saves += 1


def _meta(shape: Shape) -> tuple[Any, ...]:
    return (shape.extra, shape.flags, shape.description)


# ---- mask backends offered on the Label page --------------------------------------------------------------
BACKENDS: tuple[str, ...] = ("offline", "sam", "segmenter")


class ProposalBackend:
    """The offline backend plus a segmenter's object probability as a proposal (one click selects)."""

    name = "segmenter"

    def __init__(self, proposal_fn: Callable[[NDArray[np.uint8]], NDArray[np.float32]]):
        from core.interactive import SuperpixelBackend

        self.proposal_fn = proposal_fn
        self.base = SuperpixelBackend()

    def embed(self, image: NDArray[np.uint8], image_id: str = "") -> Embedding:
        return self.base.embed(image, image_id, proposal=self.proposal_fn(image))

    def predict(self, embedding: Embedding, prompt: Prompt) -> NDArray[np.bool_]:
        return self.base.predict(embedding, prompt)


def segmenter_checkpoint(models_root: str | Path) -> Path | None:
    """The project segmenter's checkpoint when ``core.segment`` is importable and one exists, else None.

    The model chosen on the Models page wins; otherwise the first segmenter by name (sorted by path).
    """
    if importlib.util.find_spec("core.segment") is None:
        return None
    from core.datasets.selection import selected_model
    from core.inventory import find_models, is_segmenter_name

    chosen = selected_model(models_root)
    if chosen is not None:
        return chosen
    found = [m.path for m in find_models(models_root) if is_segmenter_name(m.name)]
    return found[0] if found else None


def make_backend(name: str, *, checkpoint: str | Path | None = None, device: str = "auto") -> MaskBackend:
    """Build a mask backend by name.

    Args:
        name: ``offline`` (always works, no weights), ``sam`` (needs a SAM checkpoint file) or
            ``segmenter`` (the project's screw/coin segmenter as a proposal for the offline backend).
        checkpoint: the weights for ``sam`` / ``segmenter``.
        device: ``auto|cpu|cuda``.

    Raises:
        ConfigError: unknown name, or a missing checkpoint argument.
        CheckpointError: the checkpoint is missing, unreadable or of the wrong model.
    """
    if name == "offline":
        from core.interactive import SuperpixelBackend

        return SuperpixelBackend()
    if name not in BACKENDS:
        raise ConfigError(f"unknown mask backend {name!r}; valid: {', '.join(BACKENDS)}")
    if not checkpoint:
        raise ConfigError(f"the {name} backend needs a checkpoint file; give its path")
    if name == "sam":
        from core.interactive import SamBackend

        return SamBackend(checkpoint, device=device)
    return ProposalBackend(load_proposal_model(checkpoint, device).probability)


class SegmenterProposal:
    """The project's screw/coin segmenter as one (H, W) object probability (max over its classes)."""

    def __init__(self, segmenter: Any):
        self.segmenter = segmenter
        self.classes: tuple[str, ...] = tuple(segmenter.classes)

    def probability(self, image: NDArray[np.uint8]) -> NDArray[np.float32]:
        probs = self.segmenter.probabilities(image)  # (C, H, W)
        return np.asarray(probs.max(axis=0), np.float32)


def load_proposal_model(checkpoint: str | Path, device: str = "auto") -> SegmenterProposal:
    """Load a ``core.segment`` checkpoint as a proposal model.

    Raises:
        ConfigError: ``core.segment`` is not in this checkout.
        CheckpointError: the file is missing, unreadable or not a segmenter checkpoint.
    """
    try:
        from core.segment import Segmenter, load_segmenter
    except ImportError as e:
        raise ConfigError("the project segmenter (core.segment) is not in this checkout") from e
    from core.device import resolve_device
    from core.errors import CheckpointError, FvwError

    path = Path(checkpoint)
    if not path.is_file():
        raise CheckpointError(
            "segmenter checkpoint not found; train one or pick one on the Models page", path=path
        )
    try:
        net = load_segmenter(path)
    except FvwError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to rebuild means the same thing to the user
        raise CheckpointError(
            f"not a segmenter checkpoint ({type(e).__name__}: {str(e)[:200]}); pick a core.segment model",
            path=path,
        ) from e
    return SegmenterProposal(Segmenter(net.to(resolve_device(device))))
