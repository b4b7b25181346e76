"""Our masks against labelme's own exports in labelme-examples: labelme2voc PNGs and labelme2coco JSON."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw

from core.annotation import (
    export_coco,
    instance_masks,
    load_label_file,
    mask_iou,
    mask_to_polygons,
    polygons_to_mask,
    shape_to_mask,
    shapes_to_label_map,
)

VOC_SETS = [
    ("semantic_segmentation", "SegmentationClass"),
    ("instance_segmentation", "SegmentationClass"),
    ("video_annotation", "SegmentationClassPNG"),
]


def _class_ids(folder: Path) -> dict[str, int]:
    names = [ln.strip() for ln in (folder / "labels.txt").read_text().splitlines() if ln.strip()]
    return {n: i - 1 for i, n in enumerate(names)}  # __ignore__ = -1 (255 in the PNG), _background_ = 0


def test_polygon_to_mask_matches_labelme2voc(shared_data: Path) -> None:
    ex = shared_data / "labelme-examples/examples"
    ious: list[float] = []
    for sub, png_dir in VOC_SETS:
        ids = _class_ids(ex / sub)
        for j in sorted((ex / sub / "data_annotated").glob("*.json")):
            lf = load_label_file(j)
            assert lf.image_height and lf.image_width
            ref = np.asarray(PIL.Image.open(ex / sub / "data_dataset_voc" / png_dir / f"{j.stem}.png"))
            ours = shapes_to_label_map(lf.shapes, lf.image_height, lf.image_width, ids).astype(np.uint8)
            classes = set(np.unique(ref).tolist()) | set(np.unique(ours).tolist())
            for c in sorted(classes - {0}):
                ious.append(mask_iou(ours == c, ref == c))
    msg = f"polygon->mask IoU vs labelme2voc PNGs: n={len(ious)} min={min(ious):.5f} median={statistics.median(ious):.5f}"
    print(msg)
    assert len(ious) >= 20 and min(ious) >= 0.99, msg


def test_instances_match_segmentation_object_pngs(shared_data: Path) -> None:
    d = shared_data / "labelme-examples/examples/instance_segmentation"
    ious: list[float] = []
    for j in sorted((d / "data_annotated").glob("*.json")):
        lf = load_label_file(j)
        assert lf.image_height and lf.image_width
        ref = np.asarray(PIL.Image.open(d / "data_dataset_voc/SegmentationObject" / f"{j.stem}.png"))
        cls = shapes_to_label_map(lf.shapes, lf.image_height, lf.image_width, _class_ids(d))
        # labelme2voc paints instances in order, later ones over earlier ones, and blanks __ignore__
        ins = np.zeros_like(cls)
        instances = instance_masks(lf.shapes, lf.image_height, lf.image_width)
        owner = {i: k for k, inst in enumerate(instances, start=1) for i in inst.shape_indices}
        for i, s in enumerate(lf.shapes):
            ins[shape_to_mask(s, lf.image_height, lf.image_width)] = owner[i]
        ins[cls == -1] = 0
        for k in range(1, len(instances) + 1):
            if not ((ins == k).any() or (ref == k).any()):
                continue  # an __ignore__ instance: blank in both
            ious.append(mask_iou(ins == k, ref == k))
    print(f"instance IoU vs SegmentationObject PNGs: n={len(ious)} min={min(ious):.5f}")
    assert len(ious) >= 5 and min(ious) >= 0.99


def _rasterise_coco(seg: list[list[float]], h: int, w: int) -> np.ndarray:
    img = PIL.Image.new("L", (w, h), 0)
    draw = PIL.ImageDraw.Draw(img)
    for poly in seg:
        draw.polygon(list(zip(poly[::2], poly[1::2], strict=True)), outline=1, fill=1)
    return np.asarray(img, dtype=bool)


def test_coco_export_matches_labelme2coco(shared_data: Path, tmp_path: Path) -> None:
    d = shared_data / "labelme-examples/examples/instance_segmentation"
    ref = json.loads((d / "data_dataset_coco/annotations.json").read_text())
    labels = [ln.strip() for ln in (d / "labels.txt").read_text().splitlines() if ln.strip()]
    summary = export_coco(d / "data_annotated", tmp_path / "coco.json", categories=labels)
    ours = json.loads((tmp_path / "coco.json").read_text())
    assert summary.images == 3 and summary.annotations == len(ref["annotations"]) == len(ours["annotations"])
    assert {c["id"]: c["name"] for c in ours["categories"]} == {c["id"]: c["name"] for c in ref["categories"]}

    def by_image(data: dict) -> dict[str, dict]:
        return {Path(i["file_name"]).stem: i for i in data["images"]}

    ref_imgs, our_imgs = by_image(ref), by_image(ours)
    assert ref_imgs.keys() == our_imgs.keys()
    ious = []
    for stem, ri in ref_imgs.items():
        oi = our_imgs[stem]
        assert (oi["height"], oi["width"]) == (ri["height"], ri["width"])
        r_anns = [a for a in ref["annotations"] if a["image_id"] == ri["id"]]
        o_anns = [a for a in ours["annotations"] if a["image_id"] == oi["id"]]
        assert len(r_anns) == len(o_anns)
        for ra in r_anns:  # match each reference object to our best one of the same class
            rm = _rasterise_coco(ra["segmentation"], ri["height"], ri["width"])
            cands = [a for a in o_anns if a["category_id"] == ra["category_id"]]
            best = max(
                cands,
                key=lambda a: mask_iou(rm, _rasterise_coco(a["segmentation"], oi["height"], oi["width"])),
            )
            ious.append(mask_iou(rm, _rasterise_coco(best["segmentation"], oi["height"], oi["width"])))
            assert best["area"] == ra["area"] and best["bbox"] == ra["bbox"]
    print(f"COCO export vs labelme2coco: n={len(ious)} min IoU={min(ious):.5f}")
    assert min(ious) >= 0.99


def test_mask_to_polygon_round_trip_on_real_objects(shared_data: Path) -> None:
    ex = shared_data / "labelme-examples/examples"
    stats = {}
    for tol in (0.0, 1.0):
        ious = []
        for sub, _ in VOC_SETS:
            for j in sorted((ex / sub / "data_annotated").glob("*.json")):
                lf = load_label_file(j)
                assert lf.image_height and lf.image_width
                for inst in instance_masks(lf.shapes, lf.image_height, lf.image_width):
                    polys = mask_to_polygons(inst.mask, "holes", tolerance=tol)
                    ious.append(mask_iou(inst.mask, polygons_to_mask(polys, *inst.mask.shape)))
        stats[tol] = (len(ious), min(ious), statistics.median(ious))
    print(f"mask->polygons->mask IoU (n, min, median) by tolerance: {stats}")
    assert stats[0.0][1] == 1.0  # exact without simplification
    assert stats[1.0][1] >= 0.98 and stats[1.0][2] >= 0.99
