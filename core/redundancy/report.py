"""Write a study's ``report.md`` (the paper's Tables 1-4 layout), ``results.json`` and plots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from core.redundancy.runner import StudyResult

__all__ = ["DECISION_RULE", "write_report", "render_report"]

DECISION_RULE = (
    "tol(X) = max(sample std of X's test error over folds x repeats, 1 / mean test-fold size). "
    "A fraction f in {1/4, 1/2, 3/4} passes the tiling test when at least 2 of its 3 fills (mean colour, "
    "black 0, white 1) have mean error <= mean error(DN) + tol(DN); it is confirmed when the best mask of "
    "its family (MH0 / CHB0 / GRI0) has mean error <= mean error(REF) + tol(REF), REF being the unmasked "
    "stride-2 first layer. The estimate is the largest f such that every fraction up to f passes and is "
    "confirmed (0 if 1/4 fails; 0 and flagged when DN is no better than the majority-class guess). The student keeps the layer plan with widths x (1 - estimate), and a "
    "stride-2 first layer when REF is within tol(DN) of DN."
)


def _fmt(v: float) -> str:
    return f"{v:.3f}"


def _variant_table(runs: list[dict[str, Any]], stage: str, ref: str) -> list[str]:
    variants = list(dict.fromkeys(r["variant"] for r in runs if r["stage"] == stage))
    keys = sorted({(r["repeat"], r["fold"]) for r in runs if r["stage"] == stage})
    ref_mean = float(
        np.mean([r["error"] for r in runs if r["stage"] == stage and r["variant"] == ref] or [0])
    )
    head = [
        "variant",
        *[f"r{rp}f{f}" for rp, f in keys],
        "error mean ± std",
        "Δ vs " + ref,
        "precision",
        "recall",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in variants:
        rows = {(r["repeat"], r["fold"]): r for r in runs if r["stage"] == stage and r["variant"] == v}
        errs = [rows[k]["error"] for k in keys if k in rows]
        std = float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0
        cells = [v, *[_fmt(rows[k]["error"]) if k in rows else "" for k in keys]]
        cells += [
            f"{np.mean(errs):.3f} ± {std:.3f}",
            f"{np.mean(errs) - ref_mean:+.3f}",
            _fmt(float(np.mean([rows[k]["precision"] for k in rows]))),
            _fmt(float(np.mean([rows[k]["recall"] for k in rows]))),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_report(result: StudyResult, data_dir: str, plots: list[str] | None = None) -> str:
    """The report as Markdown text."""
    cfg, est = result.config, result.estimate
    out = [
        "# Data redundancy and distillation study",
        "",
        f"Data: `{data_dir}`, {len(result.classes)} classes, {sum(result.counts.values())} images "
        f"({', '.join(f'{c}: {n}' for c, n in result.counts.items())}).",
        f"Backbone `{cfg['backbone']}` at {cfg['size']}x{cfg['size']}, {cfg['folds']} folds x {cfg['repeats']} "
        f"repeat(s), {cfg['epochs']} epochs, batch {cfg['batch_size']}, Adam lr {cfg['lr']}, focal gamma "
        f"{cfg['gamma']}, KD T={cfg['temperature']} alpha={cfg['alpha']}, device {cfg['device']}, seed {cfg['seed']}. "
        f"Wall time {result.seconds / 60:.1f} min. Errors are on held-out test folds (last weights, no selection).",
        "",
        "## Table 1 — tiling: test error per method and fold",
        "",
        *_variant_table(result.runs, "tiling", "DN"),
        "",
        "## Table 2 — masked first convolution (stride 2): test error per mask and fold",
        "",
        *_variant_table(result.runs, "mask", "REF"),
        "",
        "## Table 3 — redundancy estimate",
        "",
        f"Decision rule: {DECISION_RULE}",
        "",
    ]
    if est is not None:
        out += [
            f"tol(DN) = {est.tol_dn:.3f}, tol(REF) = {est.tol_ref:.3f}; stride-2 REF within tol of DN: "
            f"{'yes' if est.stride2_ok else 'no'}.",
            "",
            "| fraction | tiling mean errors (fills) | tiling passes | best mask (error) | confirmed | accepted |",
            "|---|---|---|---|---|---|",
        ]
        for row in est.rows:
            fills = ", ".join(f"{m} {v:.3f}" for m, v in row["tiling"].items())
            best = f"{row['best_mask']} ({row['best_mask_error']:.3f})" if row["best_mask"] else "-"
            out.append(
                f"| {row['fraction']:.2f} | {fills} | {row['tiling_passes']} | {best} | {row['confirmed']} | "
                f"{row['accepted']} |"
            )
        if not est.informative:
            out += ["", "**Warning: the DN teacher is at chance level; the estimate is not informative.** "
                    "Train longer (--epochs) or use more images."]  # fmt: skip
        out += ["", f"**Estimated redundancy: {est.redundancy:g}** (paper on Caltech-256: 1/4).", ""]
    out += [
        "## Table 4 — teacher vs student vs distilled student",
        "",
        f"Student plan: width x {result.student.get('width', 1.0):g}, first-layer stride "
        f"{result.student.get('first_stride', 1)}. Latency: median ms of one forward pass "
        f"({cfg['latency_repeats']} timed runs), CPU threads: {result.cpu_threads or 'not recorded'}.",
        "",
    ]
    if result.models:
        lat_keys = [k for k in result.models[0] if k.endswith("_ms")]
        head = ["model", "params", *lat_keys, "test error mean ± std"]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in result.models:
            cells = [m["model"], f"{m['params']:,}", *[f"{m[k]:.2f}" for k in lat_keys]]
            cells.append(f"{m['error_mean']:.3f} ± {m['error_std']:.3f}")
            out.append("| " + " | ".join(cells) + " |")
        t, s, d = result.models
        dp = 1 - s["params"] / t["params"]
        out += ["", f"- Parameters: student has {dp:.1%} fewer than the teacher (goal >= 38 %)."]
        for k in lat_keys:
            out.append(f"- Latency {k}: {1 - s[k] / t[k]:.1%} lower than the teacher (goal >= 25 %).")
        out.append(
            f"- Error: distilled {d['error_mean']:.3f} vs teacher {t['error_mean']:.3f} vs student alone "
            f"{s['error_mean']:.3f} (goal: distilled no worse than the teacher: "
            f"{'met' if d['error_mean'] <= t['error_mean'] else 'not met'})."
        )
    for p in plots or []:
        out += ["", f"![{Path(p).stem}]({Path(p).name})"]
    return "\n".join(out) + "\n"


def _plot(result: StudyResult, stage: str, path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    variants = list(dict.fromkeys(r["variant"] for r in result.runs if r["stage"] == stage))
    if not variants:
        return False
    errs = [[r["error"] for r in result.runs if r["stage"] == stage and r["variant"] == v] for v in variants]
    fig, ax = plt.subplots(figsize=(7, 3), dpi=80)
    ax.bar(variants, [np.mean(e) for e in errs], yerr=[np.std(e) for e in errs], color="#4a7ab0", capsize=3)
    ax.set_ylabel("test error")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(result: StudyResult, out_dir: str | Path, data_dir: str) -> Path:
    """Write ``report.md``, ``results.json``, ``tiling.png`` and ``masks.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = [
        str(out / name)
        for stage, name, title in (
            ("tiling", "tiling.png", "Tiling (Table 1)"),
            ("mask", "masks.png", "Masks (Table 2)"),
        )
        if _plot(result, stage, out / name, title)
    ]
    raw = {**result.to_dict(), "data_dir": data_dir}
    _atomic_write(out / "results.json", json.dumps(raw, indent=1, default=float))
    report = out / "report.md"
    _atomic_write(report, render_report(result, data_dir, plots))
    return report
