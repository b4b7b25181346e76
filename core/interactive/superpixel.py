"""Offline interactive segmenter: needs no downloaded weights, so labelling always works.

Two methods behind one backend:

* ``"cut"`` (default): each positive click grows a window until the connected region that differs
  from the window's border colours no longer touches it (an object on a surface); the regions seed
  GrabCut on a crop around them, negative clicks and a box add background (see ``_objectness``).
  ``embed`` only converts the photo to Lab; a click costs tens of ms at any object size.
* ``"walker"``: SLIC superpixels + a seeded random walker (Grady 2006) on their adjacency graph,
  snapped to edges with a guided filter. Good on large uniform objects (coins), too coarse for thin
  screws.

A *proposal* (the project's screw/coin segmenter, an (H, W) float probability map) helps both: with
``"cut"`` a positive click inside a proposed object takes that object's connected region as its seed
instead of growing a window (GrabCut then trims it to the photo's edges); with ``"walker"`` it adds a
unary term so one click selects a whole object the segmenter sees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from core.errors import ConfigError, InputError
from core.interactive._objectness import grabcut_refine, seed_region
from core.interactive.base import Embedding, Prompt, check_image

__all__ = ["OfflineMethod", "SuperpixelConfig", "SuperpixelBackend"]

OfflineMethod = Literal["cut", "walker"]
_METHODS: tuple[str, ...] = ("cut", "walker")


@dataclass(frozen=True)
class SuperpixelConfig:
    """Parameters of the offline backend.

    Attributes:
        method: ``"cut"`` (local objectness + GrabCut) or ``"walker"`` (superpixel random walker).
        work_size: longest side of the working image in pixels.
        region_size: SLIC superpixel size in working pixels.
        ruler: SLIC compactness.
        beta: edge-weight contrast (larger = edges block the walk more).
        border_background: without a box or negative clicks, treat superpixels on the photo border as
            background seeds.
        proposal_weight: walker: strength of the proposal's unary term (0 disables it).
        proposal_threshold: cut: proposal probability above which a pixel belongs to a proposed object.
        refine: snap the upsampled probability to image edges with a guided filter.
        cut_start_radius: cut: first window half-size around a click, pixels.
        cut_work_side: cut: windows and GrabCut crops are resized to at most this side.
        cut_lightness_weight: cut: weight of Lab lightness in colour distances (shadows count less).
        cut_half_max: cut: object threshold as a fraction of the click's contrast to the background.
        cut_min_contrast: cut: lowest object threshold, Lab units.
        cut_accept_contrast: cut: a window whose border the click differs from by less (Lab units)
            is taken to lie inside the object, and the search looks wider.
        cut_erode, cut_dilate: cut: certain object = region eroded, certain background = beyond the
            region dilated (pixels).
        cut_iterations: cut: GrabCut iterations.
    """

    method: OfflineMethod = "cut"

    work_size: int = 384
    region_size: int = 6
    ruler: float = 12.0
    beta: float = 1.5
    border_background: bool = True
    proposal_weight: float = 0.5
    proposal_threshold: float = 0.5
    refine: bool = True
    cut_start_radius: int = 32
    cut_work_side: int = 128
    cut_lightness_weight: float = 0.5
    cut_half_max: float = 0.5
    cut_min_contrast: float = 6.0
    cut_accept_contrast: float = 15.0
    cut_erode: int = 2
    cut_dilate: int = 8
    cut_iterations: int = 2

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ConfigError(
                f"unknown offline method {self.method!r}; valid: {', '.join(_METHODS)}", field="method"
            )
        for name in ("work_size", "region_size", "cut_start_radius", "cut_work_side", "cut_iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", field=name)
        if not 0.0 < self.cut_half_max < 1.0:
            raise ConfigError(
                f"cut_half_max must be in (0, 1), got {self.cut_half_max}", field="cut_half_max"
            )


@dataclass(frozen=True)
class _Cut:
    image: NDArray[np.uint8]  # (H, W, 3) RGB photo, for GrabCut
    lab: NDArray[np.float32]  # (H, W, 3) Lab, OpenCV 8-bit scaling
    objects: NDArray[np.int32] | None = None  # (H, W) connected proposed objects (0 = none)


@dataclass(frozen=True)
class _Graph:
    scale: float
    labels: NDArray[np.int32]  # (h, w) superpixel id per working pixel
    n: int
    laplacian: sp.csr_matrix  # (n, n) weighted graph Laplacian
    border: NDArray[np.bool_]  # (n,) superpixel touches the border
    guide: NDArray[np.uint8]  # (H, W) gray photo for edge refinement
    proposal: NDArray[np.float32] | None  # (n,) mean proposal probability per superpixel


def _image_id(image: NDArray[np.uint8]) -> str:
    return hashlib.blake2b(image.tobytes(), digest_size=8).hexdigest()


class SuperpixelBackend:
    """Offline backend; thread-safe (holds only its config)."""

    name = "offline"

    def __init__(self, config: SuperpixelConfig = SuperpixelConfig()):
        self.config = config

    def embed(
        self, image: NDArray[np.uint8], image_id: str = "", proposal: NDArray[np.float32] | None = None
    ) -> Embedding:
        """What prompts on ``image`` ((H, W, 3) uint8 RGB) need.

        ``"cut"`` keeps the photo, its Lab conversion and the proposal's connected objects;
        ``"walker"`` builds superpixels and their graph.

        Args:
            image: the photo.
            image_id: cache key; a content hash when empty.
            proposal: optional (H, W) float object probability from a segmenter.

        Raises:
            InputError: the image is not (H, W, 3) uint8 or the proposal's size differs from it.
        """
        image = check_image(image)
        h0, w0 = image.shape[:2]
        if proposal is not None and np.shape(proposal) != (h0, w0):
            raise InputError(
                f"proposal of shape {np.shape(proposal)} does not match the {w0}x{h0} photo; "
                f"give an (H, W) = ({h0}, {w0}) probability map"
            )
        key = image_id or _image_id(image)
        if self.config.method == "cut":
            lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
            objects = None
            if proposal is not None:
                inside = (np.asarray(proposal) > self.config.proposal_threshold).astype(np.uint8)
                objects = cv2.connectedComponents(inside, connectivity=8)[1].astype(np.int32)
            return Embedding(key, h0, w0, self.name, _Cut(image.copy(), lab, objects))
        return Embedding(key, h0, w0, self.name, self._graph(image, proposal))

    def _graph(self, image: NDArray[np.uint8], proposal: NDArray[np.float32] | None) -> _Graph:
        cfg = self.config
        h0, w0 = image.shape[:2]
        scale = min(1.0, cfg.work_size / max(h0, w0))
        small = cv2.resize(
            image, (max(8, round(w0 * scale)), max(8, round(h0 * scale))), interpolation=cv2.INTER_AREA
        )
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
        slic = cv2.ximgproc.createSuperpixelSLIC(lab, cv2.ximgproc.SLICO, cfg.region_size, cfg.ruler)
        slic.iterate(5)
        labels = slic.getLabels().astype(np.int32)
        n = int(labels.max()) + 1
        feats = lab.reshape(-1, 3).astype(np.float64)
        counts = np.bincount(labels.ravel(), minlength=n).astype(np.float64)
        counts[counts == 0] = 1.0
        mean = np.stack([np.bincount(labels.ravel(), feats[:, c], n) for c in range(3)], 1) / counts[:, None]
        # Edges between 4-neighbouring pixels of different superpixels; weight by the mean-colour contrast
        # of the two superpixels *and* the gradient along their boundary, so thin bright rims still separate.
        grad = cv2.morphologyEx(lab, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(np.float64).sum(2)
        a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
        b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
        g = np.concatenate([grad[:, :-1].ravel(), grad[:-1, :].ravel()])
        keep = a != b
        a, b, g = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep]), g[keep]
        key = a.astype(np.int64) * n + b
        uniq, inv = np.unique(key, return_inverse=True)
        bnd = np.bincount(inv, g) / np.bincount(inv)
        ea, eb = (uniq // n).astype(np.int64), (uniq % n).astype(np.int64)
        diff = ((mean[ea] - mean[eb]) ** 2).sum(1) / max(
            1e-6, float(np.mean(((mean[ea] - mean[eb]) ** 2).sum(1)))
        )
        gnorm = bnd / max(1e-6, float(np.mean(bnd)))
        w = np.exp(-cfg.beta * 0.5 * (diff + gnorm)) + 1e-6
        adj = sp.coo_matrix(
            (np.concatenate([w, w]), (np.concatenate([ea, eb]), np.concatenate([eb, ea]))), (n, n)
        )
        adj = adj.tocsr()
        lap = (sp.diags(np.asarray(adj.sum(1)).ravel()) - adj).tocsr()
        border = np.zeros(n, bool)
        border[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
        prop = None
        if proposal is not None:
            p_small = cv2.resize(
                proposal.astype(np.float32), (labels.shape[1], labels.shape[0]), interpolation=cv2.INTER_AREA
            )
            prop = (np.bincount(labels.ravel(), p_small.ravel(), n) / counts).astype(np.float32)
        guide: NDArray[np.uint8] = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.uint8)
        return _Graph(scale, labels, n, lap, border, guide, prop)

    def predict(self, embedding: Embedding, prompt: Prompt) -> NDArray[np.bool_]:
        """Object mask (H, W) bool for the prompt; all False when there is nothing to go on."""
        if isinstance(embedding.payload, _Cut):
            return self._cut(embedding.payload, prompt)
        h0, w0 = embedding.height, embedding.width
        prob = self.probability(embedding, prompt)
        if prob is None:
            return np.zeros((h0, w0), bool)
        mask = prob > 0.5
        # Keep only the parts connected to a positive click (or the box centre): stray look-alike blobs go.
        anchors = [(x, y) for (x, y), lab in zip(prompt.points, prompt.labels, strict=True) if lab == 1]
        if not anchors and prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            anchors = [((x0 + x1) / 2, (y0 + y1) / 2)]
        n_cc, cc = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        keep = {int(cc[min(h0 - 1, max(0, int(y))), min(w0 - 1, max(0, int(x)))]) for x, y in anchors} - {0}
        if keep:
            mask = np.isin(cc, list(keep))
        if prompt.box is not None:
            x0, y0, x1, y1 = (round(v) for v in prompt.box)
            inside = np.zeros_like(mask)
            inside[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
            mask &= inside
        return mask

    def _cut(self, cut: _Cut, prompt: Prompt) -> NDArray[np.bool_]:
        cfg = self.config
        h0, w0 = cut.lab.shape[:2]

        def pixel(x: float, y: float) -> tuple[int, int]:
            return min(w0 - 1, max(0, int(x))), min(h0 - 1, max(0, int(y)))

        pos = [pixel(x, y) for (x, y), lab in zip(prompt.points, prompt.labels, strict=True) if lab == 1]
        neg = [pixel(x, y) for (x, y), lab in zip(prompt.points, prompt.labels, strict=True) if lab == 0]
        box = None
        if prompt.box is not None:
            bx0, by0 = pixel(prompt.box[0], prompt.box[1])
            bx1, by1 = (min(w0, max(1, round(v))) for v in (prompt.box[2], prompt.box[3]))
            box = (bx0, by0, max(bx0 + 1, bx1), max(by0 + 1, by1))
            if not pos:
                pos = [pixel((prompt.box[0] + prompt.box[2]) / 2, (prompt.box[1] + prompt.box[3]) / 2)]
        if not pos:
            return np.zeros((h0, w0), bool)
        seed = np.zeros((h0, w0), bool)
        for click in pos:
            if seed[click[1], click[0]]:
                continue  # already inside the object found from an earlier click
            if cut.objects is not None and cut.objects[click[1], click[0]] > 0:
                seed |= cut.objects == cut.objects[click[1], click[0]]  # the proposed object clicked
                continue
            seed |= seed_region(
                cut.lab,
                click,
                neg,
                start_radius=cfg.cut_start_radius,
                work_side=cfg.cut_work_side,
                lightness_weight=cfg.cut_lightness_weight,
                half_max=cfg.cut_half_max,
                min_contrast=cfg.cut_min_contrast,
                accept_contrast=cfg.cut_accept_contrast,
            )
        if box is not None:
            seed[:, : box[0]] = seed[:, box[2] :] = False
            seed[: box[1]] = seed[box[3] :] = False
        for x, y in pos:
            seed[y, x] = True
        mask = grabcut_refine(
            cut.image,
            seed,
            pos,
            neg,
            box,
            erode=cfg.cut_erode,
            dilate=cfg.cut_dilate,
            work_side=cfg.cut_work_side,
            iterations=cfg.cut_iterations,
        )
        if box is not None:  # a click outside the box stays outside the mask
            mask[:, : box[0]] = mask[:, box[2] :] = False
            mask[: box[1]] = mask[box[3] :] = False
        return mask

    def probability(self, embedding: Embedding, prompt: Prompt) -> NDArray[np.float32] | None:
        """Object probability (H, W) float32 in [0, 1], or None when the prompt has no object seed."""
        graph = embedding.payload
        if not isinstance(graph, _Graph):
            raise InputError(
                "probability() needs a walker embedding; use SuperpixelConfig(method='walker') or a proposal"
            )
        cfg = self.config
        n = graph.n
        h, w = graph.labels.shape
        fg = np.zeros(n, bool)
        bg = np.zeros(n, bool)

        def node(x: float, y: float) -> int:
            xi = min(w - 1, max(0, int(x * graph.scale)))
            yi = min(h - 1, max(0, int(y * graph.scale)))
            return int(graph.labels[yi, xi])

        for (px, py), lab in zip(prompt.points, prompt.labels, strict=True):
            (fg if lab == 1 else bg)[node(px, py)] = True
        if prompt.box is not None:
            x0, y0, x1, y1 = (v * graph.scale for v in prompt.box)
            ys, xs = np.mgrid[0:h, 0:w]
            outside = (xs < x0) | (xs > x1) | (ys < y0) | (ys > y1)
            bg[np.unique(graph.labels[outside])] = True
            if not fg.any():
                fg[node((prompt.box[0] + prompt.box[2]) / 2, (prompt.box[1] + prompt.box[3]) / 2)] = True
        if not fg.any():
            return None
        if not bg.any() and cfg.border_background:
            bg |= graph.border
        bg &= ~fg
        lap = graph.laplacian
        unary_fg: NDArray[np.float64] = np.zeros(n)
        unary_bg: NDArray[np.float64] = np.zeros(n)
        if graph.proposal is not None and cfg.proposal_weight > 0:
            scale = cfg.proposal_weight * float(lap.diagonal().mean())
            unary_fg = scale * graph.proposal.astype(np.float64)
            unary_bg = scale * (1.0 - graph.proposal.astype(np.float64))
        seeded = fg | bg
        free = ~seeded
        x = np.zeros(n)
        x[fg] = 1.0
        if free.any():
            # Random walker: L_uu x_u = -L_us x_s, with unary links to virtual object/background terminals.
            l_uu = lap[free][:, free] + sp.diags(unary_fg[free] + unary_bg[free])
            rhs = -lap[free][:, seeded] @ x[seeded] + unary_fg[free]
            # A small leak to background keeps the system solvable where a part of the graph touches no seed
            # (empty superpixel ids, or no background seed at all).
            l_uu = l_uu + sp.identity(int(free.sum())) * (1e-4 * float(lap.diagonal().mean()))
            x[free] = spla.spsolve(l_uu.tocsc(), rhs)
        small = np.clip(x, 0.0, 1.0).astype(np.float32)[graph.labels]  # (h, w)
        full: NDArray[np.float32] = cv2.resize(
            small, (graph.guide.shape[1], graph.guide.shape[0]), interpolation=cv2.INTER_LINEAR
        ).astype(np.float32, copy=False)
        if cfg.refine:
            full = _refine(full, graph.guide, graph.scale)
        return full


def _refine(prob: NDArray[np.float32], guide: NDArray[np.uint8], scale: float) -> NDArray[np.float32]:
    """Guided-filter the probability near its 0.5 level set, inside the object's box only (cheap)."""
    ys, xs = np.nonzero(prob > 0.2)
    if ys.size == 0:
        return prob
    pad = int(4 / max(scale, 1e-3))
    y0, y1 = max(0, ys.min() - pad), min(prob.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(prob.shape[1], xs.max() + pad + 1)
    radius = max(2, int(round(1.5 / max(scale, 1e-3))))
    g = guide[y0:y1, x0:x1].astype(np.float32) / 255.0
    crop = cv2.ximgproc.guidedFilter(g, np.ascontiguousarray(prob[y0:y1, x0:x1]), radius, 1e-3)
    out = prob.copy()
    out[y0:y1, x0:x1] = np.clip(crop, 0.0, 1.0)
    return out
