"""Write a locate result: overlay.png, canonical crops (RGBA, background removed) and result.json."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.locate.types import LocateResult
from core.pose.geometry import direction

__all__ = ["draw_overlay", "write_result"]


def draw_overlay(image: NDArray[np.uint8], result: LocateResult) -> NDArray[np.uint8]:
    """RGB copy of the photo with screw outlines, head arrows, the coin (its fitted ellipse or circle) and, when
    the screw was clicked, a cross where the person clicked."""
    out = image.copy()
    for i, s in enumerate(result.screws):
        pts = np.round(np.array(s.polygon)).astype(np.int32)
        cv2.polylines(out, [pts], True, (255, 40, 40), 2, cv2.LINE_AA)
        holes = _holes(s.mask)  # an eye bolt's ring (the polygon is the outer outline only, as labelme's)
        if holes:
            cv2.polylines(out, holes, True, (255, 40, 40), 1, cv2.LINE_AA)
        ux, uy = direction(s.angle_deg)
        c = np.array(s.center)
        tip = c + np.array([ux, uy]) * s.length_px / 2
        cv2.arrowedLine(
            out, tuple(int(v) for v in c), tuple(int(v) for v in tip), (40, 220, 40), 2, cv2.LINE_AA
        )
        label = f"#{i} {s.length_mm:.1f}mm" if s.length_mm is not None else f"#{i}"
        cv2.putText(out, label, (int(c[0]) + 5, int(c[1])), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
    if result.coin is not None and result.coin.ellipse is not None:
        e = result.coin.ellipse  # the outline fitted on the photo's edges
        cv2.ellipse(out, ((e.cx, e.cy), (2 * e.a, 2 * e.b), e.angle_deg), (40, 120, 255), 2, cv2.LINE_AA)
    elif result.coin is not None:
        ci = result.coin.circle
        cv2.circle(
            out, (int(round(ci.cx)), int(round(ci.cy))), int(round(ci.r)), (40, 120, 255), 2, cv2.LINE_AA
        )
    if result.click is not None:
        size = max(12, round(0.02 * max(image.shape[:2])))
        xy = (int(result.click[0]), int(result.click[1]))
        cv2.drawMarker(out, xy, (255, 255, 255), cv2.MARKER_CROSS, size + 4, 5, cv2.LINE_AA)
        cv2.drawMarker(out, xy, (255, 0, 255), cv2.MARKER_CROSS, size, 2, cv2.LINE_AA)
    return out


def _holes(mask: NDArray[np.bool_]) -> list[NDArray[Any]]:
    """The outlines of the holes in ``mask``."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    return [c for c, h in zip(contours, hierarchy[0], strict=True) if h[3] >= 0]  # has a parent: a hole


def _write_png(path: Path, rgb_or_rgba: NDArray[np.uint8]) -> None:
    code = cv2.COLOR_RGBA2BGRA if rgb_or_rgba.ndim == 3 and rgb_or_rgba.shape[2] == 4 else cv2.COLOR_RGB2BGR
    if rgb_or_rgba.size == 0:
        return
    cv2.imwrite(str(path), cv2.cvtColor(rgb_or_rgba, code))


def write_result(out_dir: str | Path, image: NDArray[np.uint8], result: LocateResult) -> Path:
    """Write everything into ``out_dir`` (created); result.json is written atomically, last."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_png(out / "overlay.png", draw_overlay(image, result))
    for i, s in enumerate(result.screws):
        can = s.canonical
        for part, arr in (("canonical", can.image), ("head", can.head), ("body", can.body), ("tip", can.tip)):
            _write_png(out / f"screw{i}_{part}.png", arr)
        cv2.imwrite(str(out / f"screw{i}_mask.png"), can.mask.astype(np.uint8) * 255)
    payload = json.dumps(result.to_json(), indent=2)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".result.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(payload)
    os.replace(tmp, out / "result.json")
    return out / "result.json"
