"""The training configuration and the YAML/``--set`` merging used by the CLI.

Configs are frozen dataclasses; YAML only carries user-editable values and every unknown key is refused
with the list of valid keys (a typo must not silently train with the default).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError

__all__ = ["TrainConfig", "PRECISIONS", "load_yaml", "parse_overrides", "build_dataclass", "split_config"]

PRECISIONS = ("auto", "32-true", "16-mixed", "bf16-mixed")


@dataclass(frozen=True)
class TrainConfig:
    """Everything the engine needs besides the model, the data and the step function.

    Attributes:
        epochs: Number of passes over the training loader.
        lr: Learning rate of the default AdamW optimizer.
        weight_decay: Weight decay of the default AdamW optimizer.
        seed: Seed of every RNG; each epoch reseeds with ``seed + epoch`` so a resumed run matches.
        device: ``auto`` | ``cpu`` | ``cuda`` (see :func:`core.device.resolve_device`).
        precision: ``auto`` (``16-mixed`` on CUDA, ``32-true`` on CPU) or a Lightning precision string.
        out_dir: Run folder for config.json, metrics.jsonl, progress.json, tb/ and checkpoints/; None
            keeps everything in memory.
        resume: Continue from ``out_dir/checkpoints/last.pt`` when it exists.
        patience: Stop after this many epochs without improvement of ``monitor`` (None: never).
        monitor: History key that defines "best" (e.g. ``val_loss``, ``val_acc``).
        mode: ``min`` or ``max``: whether a lower or higher ``monitor`` is better.
        progress: Show a tqdm bar on stderr (rank 0 only).
        max_batches_per_epoch: Cut every epoch (train and validation) after this many batches.
        grad_clip: Clip the gradient norm to this value (None: no clipping).
        devices: Processes to train with; >1 runs DDP (gloo on CPU, NCCL on CUDA). Only from a script or
            ``python -m core.train``: the launcher re-runs the command once per extra rank.
        strategy: Lightning Fabric strategy (``auto`` picks ``ddp`` when devices > 1).
    """

    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    out_dir: str | None = None
    resume: bool = True
    patience: int | None = None
    monitor: str = "val_loss"
    mode: str = "min"
    progress: bool = True
    max_batches_per_epoch: int | None = None
    grad_clip: float | None = None
    devices: int = 1
    strategy: str = "auto"

    def __post_init__(self) -> None:
        _check(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", "must be an integer >= 1")
        _check(self.lr > 0, "lr", "must be > 0")
        _check(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        _check(isinstance(self.seed, int) and self.seed >= 0, "seed", "must be an integer >= 0")
        _check(self.precision in PRECISIONS, "precision", f"must be one of {', '.join(PRECISIONS)}")
        _check(
            self.patience is None or (isinstance(self.patience, int) and self.patience >= 1),
            "patience",
            "must be None or an integer >= 1",
        )
        _check(self.mode in ("min", "max"), "mode", "must be 'min' or 'max'")
        _check(bool(self.monitor), "monitor", "must name a history key such as 'val_loss'")
        _check(
            self.max_batches_per_epoch is None or self.max_batches_per_epoch >= 1,
            "max_batches_per_epoch",
            "must be None or >= 1",
        )
        _check(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "must be None or > 0")
        _check(isinstance(self.devices, int) and self.devices >= 1, "devices", "must be an integer >= 1")


def _check(ok: bool, field: str, what: str) -> None:
    if not ok:
        raise ConfigError(f"TrainConfig.{field} {what}", field=field)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping (an empty file is an empty mapping).

    Raises:
        ConfigError: The file is missing, is not valid YAML, or is not a mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError("config file not found; pass an existing YAML file to --config", path=p)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file is not valid YAML: {e}", path=p) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config file must hold a mapping of key: value lines", path=p)
    return {str(k): v for k, v in data.items()}


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["epochs=3", "lr=0.01"]`` into a mapping; values are parsed as YAML scalars.

    Raises:
        ConfigError: An item has no ``=`` or an empty key.
    """
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}", field=item)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}


def _coerce(value: Any, tp: Any, field: str, owner: str) -> Any:
    """Coerce a YAML value to a field's annotated type (ints to floats, lists to tuples, ...)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, field, owner)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if errors else ConfigError(f"{owner}.{field} got {value!r}", field=field)
    bad = ConfigError(f"{owner}.{field} expects {getattr(tp, '__name__', tp)}, got {value!r}", field=field)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise bad
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise bad
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, field, owner) for v in value)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise bad
        inner = args[0] if args else Any
        return [_coerce(v, inner, field, owner) for v in value]
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{owner}.{field} must be one of {list(args)}, got {value!r}", field=field)
    return value


def build_dataclass(cls: type, values: Mapping[str, Any]) -> Any:
    """Instantiate a frozen dataclass from a mapping, refusing unknown keys and coercing types.

    Raises:
        ConfigError: Unknown key (the message lists the valid keys) or a value of the wrong type.
    """
    types_ = _field_types(cls)
    unknown = sorted(set(values) - set(types_))
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {unknown} for {cls.__name__}; valid keys: {', '.join(sorted(types_))}",
            field=unknown[0],
        )
    kwargs = {k: _coerce(v, types_[k], k, cls.__name__) for k, v in values.items()}
    return cls(**kwargs)


def split_config(
    values: Mapping[str, Any], options_cls: type | None
) -> tuple[TrainConfig, Any, dict[str, Any]]:
    """Split one flat mapping into a :class:`TrainConfig` and the task's options dataclass.

    Returns:
        ``(train_config, options, merged)``: ``options`` is None when the task has no options class;
        ``merged`` is the JSON-friendly full configuration written to ``config.json``.

    Raises:
        ConfigError: A key belongs to neither; the message lists every valid key.
    """
    train_keys = set(_field_types(TrainConfig))
    opt_keys = set(_field_types(options_cls)) if options_cls is not None else set()
    clash = train_keys & opt_keys
    if clash:
        raise ConfigError(f"task options redefine engine keys {sorted(clash)}; rename them in the task")
    unknown = sorted(set(values) - train_keys - opt_keys)
    if unknown:
        valid = ", ".join(sorted(train_keys | opt_keys))
        raise ConfigError(f"unknown config key(s) {unknown}; valid keys: {valid}", field=unknown[0])
    train = build_dataclass(TrainConfig, {k: v for k, v in values.items() if k in train_keys})
    options = None
    if options_cls is not None:
        options = build_dataclass(options_cls, {k: v for k, v in values.items() if k in opt_keys})
    merged = {"train": dataclasses.asdict(train)}
    if options is not None:
        merged["options"] = json.loads(json.dumps(dataclasses.asdict(options), default=str))
    return train, options, merged
