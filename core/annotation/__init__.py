"""labelme annotations: read/write JSON exactly, shapes <-> masks, datasets of photos + JSON, COCO export."""

from __future__ import annotations

from core.annotation.coco import CocoSummary, export_coco, shape_to_coco_polygons
from core.annotation.dataset import IMAGE_SUFFIXES, Dataset, DatasetItem, resolve_under_root
from core.annotation.masks import (
    AREA_SHAPE_TYPES,
    Instance,
    PolygonPolicy,
    ThinPolicy,
    instance_masks,
    mask_iou,
    mask_to_polygons,
    polygons_to_mask,
    shape_to_mask,
    shapes_to_label_map,
    shapes_to_mask,
    signed_area,
)
from core.annotation.schema import (
    DEFAULT_VERSION,
    SHAPE_TYPES,
    LabelFile,
    Shape,
    ShapeType,
    is_label_dict,
    label_file_from_dict,
    label_file_to_dict,
    load_label_file,
    save_label_file,
)

__all__ = [
    "AREA_SHAPE_TYPES",
    "DEFAULT_VERSION",
    "IMAGE_SUFFIXES",
    "SHAPE_TYPES",
    "CocoSummary",
    "Dataset",
    "DatasetItem",
    "Instance",
    "LabelFile",
    "PolygonPolicy",
    "Shape",
    "ShapeType",
    "ThinPolicy",
    "export_coco",
    "instance_masks",
    "is_label_dict",
    "label_file_from_dict",
    "label_file_to_dict",
    "load_label_file",
    "mask_iou",
    "mask_to_polygons",
    "polygons_to_mask",
    "resolve_under_root",
    "save_label_file",
    "shape_to_coco_polygons",
    "shape_to_mask",
    "shapes_to_label_map",
    "shapes_to_mask",
    "signed_area",
]
