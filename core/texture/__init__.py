"""Structure/texture study: RTV decomposition, cue-conflict data, the k sweep and its models.

Glossary: Structure = the smooth layer of a photo; Texture = ``image - structure``; Cue-conflict = an
image whose structure comes from class s and texture from class t; k = weight of the shape label in
the mixed target ``k * s + (1 - k) * t``.
"""

from __future__ import annotations

from core.texture.cueconflict import (
    CueItem,
    build_swapped_set,
    load_cue_conflict,
    load_plain_set,
    mix_targets,
    parse_cue_name,
    shape_bias,
    split_by_shape,
    swap_structure_texture,
)
from core.texture.decompose import (
    METHODS,
    Decomposition,
    check_image,
    decompose,
    structure_of,
    texture_to_uint8,
)
from core.texture.jobs import SWEEP_TEMPLATE
from core.texture.rtv import RTVConfig, pcg_solve, rtv_smooth, rtv_weights

__all__ = [
    "build_swapped_set",
    "CueItem",
    "Decomposition",
    "METHODS",
    "RTVConfig",
    "SWEEP_TEMPLATE",
    "check_image",
    "decompose",
    "load_cue_conflict",
    "load_plain_set",
    "mix_targets",
    "parse_cue_name",
    "pcg_solve",
    "rtv_smooth",
    "rtv_weights",
    "shape_bias",
    "split_by_shape",
    "structure_of",
    "swap_structure_texture",
    "texture_to_uint8",
]
