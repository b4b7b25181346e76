"""The one checkpoint loader and saver of the project.

Habits taken from timm's ``_helpers.load_state_dict``: everything is mapped to the CPU, ``.pt`` files are
read with ``weights_only=True`` (no code runs while loading), safetensors is preferred, the ``module.``
(DistributedDataParallel) and ``_orig_mod.`` (``torch.compile``) prefixes are stripped, and loading is
strict by default. The architecture arguments travel inside the file (like nanoGPT's ``model_args``), so
:func:`build_from_checkpoint` rebuilds a model from one file.

File layout:

- ``.safetensors``: the tensors, with metadata ``{"fvw_checkpoint": "1", "arch": <JSON>, "meta": <JSON>}``.
- ``.pt`` / ``.pth``: ``torch.save({"state_dict": ..., "arch": {...}, "meta": {...}})``.

Reading also accepts a user's raw state_dict and ``{"state_dict": ...}`` / ``{"model": ...}`` /
``{"model_state_dict": ...}`` wrappers (ImageNet and Lightning-style files); ``arch`` is then empty.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from core.errors import CheckpointError

__all__ = [
    "Checkpoint",
    "CheckpointFormat",
    "build_from_checkpoint",
    "clean_state_dict",
    "load_checkpoint",
    "load_into",
    "save_checkpoint",
    "load_model_file",
]

log = logging.getLogger(__name__)

CheckpointFormat = Literal["safetensors", "torch"]
_SUFFIXES: dict[str, CheckpointFormat] = {
    ".safetensors": "safetensors",
    ".pt": "torch",
    ".pth": "torch",
    ".bin": "torch",
    ".ckpt": "torch",
}
_SAVE_SUFFIXES = (".safetensors", ".pt", ".pth")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
_PREFIXES = ("module.", "_orig_mod.")
_SHOW = 20  # keys listed per category in an error message


@dataclass(frozen=True)
class Checkpoint:
    """Weights plus the information needed to rebuild and describe the model.

    Attributes:
        state_dict: Parameter and buffer tensors on the CPU, prefixes already stripped.
        arch: Keyword arguments of the model factory (empty for third-party files).
        meta: Free-form JSON-able facts (epoch, metrics, dataset, git commit...).
        path: The file it was read from.
        format: ``"safetensors"`` or ``"torch"``.
    """

    state_dict: dict[str, torch.Tensor]
    arch: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    format: CheckpointFormat = "safetensors"


def clean_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Strip ``module.`` and ``_orig_mod.`` prefixes (also nested ones, such as ``encoder._orig_mod.``).

    Raises:
        CheckpointError: Two keys become the same key after stripping.
    """
    cleaned: dict[str, Any] = {}
    for key, value in state_dict.items():
        new = key.replace("._orig_mod.", ".")
        while new.startswith(_PREFIXES):
            new = new.split(".", 1)[1]
        if new in cleaned:
            raise CheckpointError(f"keys {key!r} and another key both become {new!r} after removing prefixes")
        cleaned[new] = value
    return cleaned


def _json_dump(value: Mapping[str, Any] | None, what: str, path: Path) -> str:
    try:
        return json.dumps(dict(value or {}), sort_keys=True)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"{what} must be JSON-able (str keys; numbers, strings, lists, dicts): {e}", path=path, field=what
        ) from e


@contextlib.contextmanager
def _atomic_target(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; move it over ``target`` only if the body succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp_name)
        os.replace(tmp_name, target)
    finally:
        # Why: a failed save must leave the previous checkpoint intact and no half-written file behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def _tensors_for_saving(state_dict: Mapping[str, Any], path: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in clean_state_dict(state_dict).items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"state_dict entry {key!r} is a {type(value).__name__}, not a tensor; put non-tensor "
                "values in meta=",
                path=path,
            )
        tensor = value.detach().cpu().contiguous()
        ptr = tensor.untyped_storage().data_ptr()
        # safetensors refuses tensors sharing storage (tied weights): save an independent copy.
        if ptr in seen and tensor.numel() > 0:
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        out[key] = tensor
    return out


def save_checkpoint(
    path: str | os.PathLike[str],
    model_or_state_dict: nn.Module | Mapping[str, torch.Tensor],
    *,
    arch: Mapping[str, Any],
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Save weights with their architecture config, atomically.

    Args:
        path: Target file, ``.safetensors`` (preferred) or ``.pt`` / ``.pth``. Parent folders are created.
        model_or_state_dict: A module (its ``state_dict()`` is saved, DDP/compile prefixes stripped) or a
            mapping of names to tensors.
        arch: Keyword arguments that rebuild the model through its factory; must be JSON-able.
        meta: Optional JSON-able facts stored alongside (epoch, metrics...).

    Returns:
        The path written.

    Raises:
        CheckpointError: Unsupported suffix, non-JSON-able ``arch``/``meta``, non-tensor entries, or the
            write failed (the previous file, if any, is left intact).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in _SAVE_SUFFIXES:
        raise CheckpointError(
            f"cannot save a checkpoint with suffix {suffix!r}; use one of {', '.join(_SAVE_SUFFIXES)}",
            path=target,
        )
    arch_json, meta_json = _json_dump(arch, "arch", target), _json_dump(meta, "meta", target)
    raw = (
        model_or_state_dict.state_dict()
        if isinstance(model_or_state_dict, nn.Module)
        else model_or_state_dict
    )
    tensors = _tensors_for_saving(raw, target)
    try:
        with _atomic_target(target) as tmp:
            if suffix == ".safetensors":
                from safetensors.torch import save_file

                save_file(
                    tensors, str(tmp), metadata={"fvw_checkpoint": "1", "arch": arch_json, "meta": meta_json}
                )
            else:
                payload = {
                    "state_dict": tensors,
                    "arch": json.loads(arch_json),
                    "meta": json.loads(meta_json),
                }
                torch.save(payload, tmp)
    except OSError as e:
        raise CheckpointError(
            f"could not write the checkpoint ({e}); check disk space and permissions", path=target
        ) from e
    return target


def _detect_format(path: Path) -> CheckpointFormat:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    with path.open("rb") as fh:
        head = fh.read(16)
    if head[:2] == b"PK" or head[:1] == b"\x80":  # torch zip archive / legacy pickle
        return "torch"
    if len(head) > 8 and head[8:9] == b"{":  # safetensors: 8-byte header length, then JSON
        return "safetensors"
    raise CheckpointError(
        f"unknown checkpoint type; expected one of {', '.join(_SUFFIXES)} (safetensors or torch.save files)",
        path=path,
    )


def _load_safetensors(path: Path) -> Checkpoint:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            state_dict = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - not a dict
    except Exception as e:  # SafetensorError is not exported under a stable name
        raise CheckpointError(
            f"not a readable safetensors file ({e}); it is corrupt or incomplete: copy or download it again",
            path=path,
        ) from e
    parsed: dict[str, dict[str, Any]] = {}
    for key in ("arch", "meta"):
        try:
            value = json.loads(metadata.get(key, "{}"))
        except json.JSONDecodeError as e:
            raise CheckpointError(f"metadata {key!r} is not valid JSON: {e}", path=path, field=key) from e
        if not isinstance(value, dict):
            raise CheckpointError(f"metadata {key!r} must be a JSON object", path=path, field=key)
        parsed[key] = value
    return Checkpoint(clean_state_dict(state_dict), parsed["arch"], parsed["meta"], path, "safetensors")


def _load_torch(path: Path) -> Checkpoint:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if found:
            raise CheckpointError(
                f"this file contains pickled Python objects ({found.group(1)}), and loading them could run "
                "arbitrary code, so it is refused (torch.load weights_only=True). In the environment that "
                "made it, and only if you trust it, re-save just the weights: "
                "torch.save(model.state_dict(), 'weights.pt'), or better save_checkpoint(...'.safetensors')",
                path=path,
            ) from e
        raise CheckpointError(
            "not a readable PyTorch checkpoint (corrupt, truncated or another file type); copy or download it again",
            path=path,
        ) from e
    except Exception as e:  # torch.load raises RuntimeError, EOFError, KeyError... on damaged files
        raise CheckpointError(
            f"not a readable PyTorch checkpoint ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
            "it is corrupt or truncated: copy or download it again",
            path=path,
        ) from e
    arch: Any = {}
    meta: Any = {}
    state_dict: Any = obj
    if isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                state_dict = obj[key]
                arch = obj.get("arch", obj.get("model_args", {}))
                meta = obj.get("meta", {})
                break
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise CheckpointError(
            f"no weights found: expected a state_dict or a dict with one of {', '.join(_WRAPPER_KEYS)}",
            path=path,
        )
    not_tensors = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"no state_dict found: entries {not_tensors[:5]} are not tensors; expected a state_dict or a dict "
            f"with one of {', '.join(_WRAPPER_KEYS)} (top-level keys: {list(obj)[:10]})",
            path=path,
        )
    if not isinstance(arch, dict) or not isinstance(meta, dict):
        raise CheckpointError("'arch' and 'meta' must be dicts", path=path, field="arch")
    return Checkpoint(clean_state_dict(state_dict), arch, meta, path, "torch")


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint onto the CPU without running any code from the file.

    Args:
        path: A ``.safetensors``, ``.pt``, ``.pth``, ``.bin`` or ``.ckpt`` file (other suffixes are sniffed).

    Returns:
        The :class:`Checkpoint`, with ``module.`` / ``_orig_mod.`` prefixes stripped.

    Raises:
        CheckpointError: The file is missing, corrupt, holds pickled code, or has no state_dict.
    """
    source = Path(path)
    if not source.is_file():
        what = "is a folder, not a checkpoint file" if source.is_dir() else "not found"
        raise CheckpointError(
            f"checkpoint {what}; check the path (models live in models/ by default)", path=source
        )
    fmt = _detect_format(source)
    return _load_safetensors(source) if fmt == "safetensors" else _load_torch(source)


def _unwrap(model: nn.Module) -> nn.Module:
    wrappers = (nn.DataParallel, nn.parallel.DistributedDataParallel)
    while True:
        inner = getattr(model, "_orig_mod", None)
        if isinstance(inner, nn.Module):  # torch.compile's OptimizedModule
            model = inner
        elif isinstance(model, wrappers):
            model = model.module
        else:
            return model


def _listing(title: str, keys: list[str]) -> str:
    more = f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else ""
    return f"{title} ({len(keys)}): {', '.join(keys[:_SHOW])}{more}"


def load_into(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True
) -> tuple[list[str], list[str]]:
    """Copy weights into ``model`` (unwrapping DDP / ``torch.compile`` wrappers).

    Args:
        model: The target module.
        state_dict: Weights, e.g. ``load_checkpoint(path).state_dict``; prefixes are stripped.
        strict: If true, any missing, unexpected or shape-mismatched key raises before anything is copied.
            If false, matching keys are loaded and the others are logged (``logging`` warning).

    Returns:
        ``(missing, unexpected)`` key lists. Shape-mismatched keys are not loaded and count as missing.

    Raises:
        CheckpointError: ``strict`` and the keys or shapes do not match.
    """
    target = _unwrap(model)
    weights = clean_state_dict(state_dict)
    expected = target.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    mismatched = [
        f"{k} checkpoint {tuple(weights[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in weights and tuple(weights[k].shape) != tuple(expected[k].shape)
    ]
    if strict and (missing or unexpected or mismatched):
        parts = [
            _listing(title, keys)
            for title, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shape mismatch", mismatched),
            )
            if keys
        ]
        raise CheckpointError(
            "checkpoint does not match the model: "
            + "; ".join(parts)
            + ". Was it trained with another architecture? Compare its 'arch' with the model's arguments, "
            "or load with strict=False to keep only the matching weights"
        )
    bad_shape = [m.split(" ", 1)[0] for m in mismatched]
    loadable = {k: v for k, v in weights.items() if k in expected and k not in bad_shape}
    target.load_state_dict(loadable, strict=False)
    for title, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
        if keys:
            log.warning("load_into(strict=False): %s", _listing(title, keys))
    return missing + bad_shape, unexpected


def build_from_checkpoint(
    path: str | os.PathLike[str],
    factory: Callable[..., nn.Module],
    *,
    device: torch.device | str | None = None,
) -> nn.Module:
    """Rebuild a model from one file: ``factory(**arch)``, then a strict load.

    Args:
        path: A checkpoint written by :func:`save_checkpoint`.
        factory: Callable returning a freshly initialised module from the stored ``arch`` arguments.
        device: Where to move the model afterwards (default: stay on the CPU).

    Returns:
        The model with the checkpoint's weights (in its factory's default train/eval mode).

    Raises:
        CheckpointError: No ``arch`` in the file, ``arch`` does not fit the factory, or the weights do
            not match the built model.
    """
    ckpt = load_checkpoint(path)
    if not ckpt.arch:
        raise CheckpointError(
            "checkpoint has no architecture config ('arch'), so the model cannot be rebuilt from it; build the "
            "model yourself and call load_into(model, load_checkpoint(path).state_dict)",
            path=ckpt.path,
        )
    name = getattr(factory, "__name__", repr(factory))
    try:
        model = factory(**ckpt.arch)
    except TypeError as e:
        raise CheckpointError(
            f"arch {ckpt.arch} does not fit {name}(): {e}; the checkpoint was made for another model",
            path=ckpt.path,
            field="arch",
        ) from e
    try:
        load_into(model, ckpt.state_dict, strict=True)
    except CheckpointError as e:
        raise CheckpointError(e.message, path=ckpt.path) from e
    return model.to(device) if device is not None else model


def load_model_file(
    path: str | os.PathLike[str] | None,
    shipped: tuple[str, ...],
    factory: Callable[..., nn.Module],
    *,
    required: bool = False,
) -> nn.Module | None:
    """A model rebuilt from ``path`` (:func:`build_from_checkpoint`), in eval mode; without ``path``, from the
    shipped file ``models/<shipped...>`` (``FVW_MODELS``), or None when that file is absent and not ``required``.

    Raises:
        CheckpointError: a ``path`` given (or a required shipped file) is missing or does not fit ``factory``.
    """
    from core.paths import models_dir

    if path is None:
        path = models_dir().joinpath(*shipped)
        if not Path(path).is_file() and not required:
            return None
    return build_from_checkpoint(path, factory).eval()
