"""The synthetic photo studio: phone-like photos of catalog screws with exact labelme ground truth."""

from __future__ import annotations

from core.synth.appearance import FINISH_LOOKS, FinishLook, Light, shade_screw
from core.synth.dataset import (
    MODES,
    Mode,
    contact_sheet,
    ensure_default_dataset,
    generate_dataset,
    photo_seed,
    plan_photo,
    render_index,
)
from core.synth.labels import to_labelme, write_label_json
from core.synth.profile import ScrewProfile, build_profile
from core.synth.render import (
    GENERATOR_VERSION,
    PhotoKind,
    StudioConfig,
    SynthPhoto,
    head_side_of,
    pick_sku,
    render_photo,
)
from core.synth.scene import BACKGROUNDS, COINS
from core.synth.thumbnail import thumbnail

__all__ = [
    "BACKGROUNDS",
    "COINS",
    "FINISH_LOOKS",
    "GENERATOR_VERSION",
    "MODES",
    "FinishLook",
    "Light",
    "Mode",
    "PhotoKind",
    "ScrewProfile",
    "StudioConfig",
    "SynthPhoto",
    "build_profile",
    "contact_sheet",
    "ensure_default_dataset",
    "generate_dataset",
    "head_side_of",
    "photo_seed",
    "pick_sku",
    "plan_photo",
    "render_index",
    "render_photo",
    "shade_screw",
    "thumbnail",
    "to_labelme",
    "write_label_json",
]
