"""Benchmark registry and runner behind ``python -m bench``.

A module ``bench/bench_<topic>.py`` registers its benchmarks at import time (module-level code stays cheap;
heavy imports go inside ``setup`` / ``fn``)::

    from bench.harness import register_figures, register_timing

    register_timing(group="synth", name="render 1280x960", setup=make_fn, items=1, unit="photo")
    register_figures(group="segment", name="held-out studio photos", fn=compute, quick_fn=None)

``setup()`` is called once and returns the zero-argument callable that is timed ``repeats`` times after
one warm-up call; the report gives the median ms per call, min/max, items/s, and the ratio of the median
to the median of the variant named ``baseline`` in the same group (measured in the same run). CUDA
benchmarks must synchronise inside the timed callable. ``fn()`` returns ``dict[str, float | str]`` of
figures (accuracy, IoU...) computed once; ``--quick`` calls ``quick_fn`` instead when given and skips
registrations marked ``heavy=True``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import math
import os
import pkgutil
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MIN_REPEATS",
    "FigureBench",
    "Registry",
    "Row",
    "TimingBench",
    "collect",
    "machine_info",
    "main",
    "register_figures",
    "register_timing",
    "render_markdown",
    "render_rows",
    "run",
]

MIN_REPEATS = 5
DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True)
class TimingBench:
    """A timed callable; see :func:`register_timing`."""

    group: str
    name: str
    setup: Callable[[], Callable[[], object]]
    items: int = 1
    unit: str = "item"
    repeats: int = MIN_REPEATS
    baseline: str | None = None
    heavy: bool = False


@dataclass(frozen=True)
class FigureBench:
    """Figures computed once; see :func:`register_figures`."""

    group: str
    name: str
    fn: Callable[[], dict[str, float | str]]
    quick_fn: Callable[[], dict[str, float | str]] | None = None
    heavy: bool = False


@dataclass
class Registry:
    """Benchmarks in registration order; names are unique within a group."""

    entries: list[TimingBench | FigureBench] = field(default_factory=list)

    def add(self, entry: TimingBench | FigureBench) -> None:
        if any(e.group == entry.group and e.name == entry.name for e in self.entries):
            raise ValueError(f"benchmark {entry.group}/{entry.name} is registered twice; rename one")
        self.entries.append(entry)

    def groups(self) -> list[str]:
        return list(dict.fromkeys(e.group for e in self.entries))


@dataclass
class Row:
    """One result line: timings, figures, or the error of a failed benchmark."""

    group: str
    name: str
    kind: str  # "timing" | "figures" | "failed"
    values: dict[str, float | str]
    baseline: str | None = None
    error: str | None = None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> str:
    try:
        return f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        return "unknown"


def machine_info() -> dict[str, str]:
    """Date, CPU, cores, RAM, Python/torch versions, torch threads and GPU of this run."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "ram": _ram_gib(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch threads"] = str(torch.get_num_threads())
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        info["gpu"] = gpu
    except ImportError:
        info["torch"] = "not installed"
        info["gpu"] = "unknown"
    return info


def _fmt(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"


def _table(headers: list[str], lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


def _group_table(rows: list[Row]) -> str:
    timing = [r for r in rows if r.kind == "timing"]
    figures = [r for r in rows if r.kind == "figures"]
    failed = [r for r in rows if r.kind == "failed"]
    parts = []
    if timing:
        rate_cols = list(dict.fromkeys(k for r in timing for k in r.values if k.endswith("/s")))
        headers = ["name", "median ms", "min ms", "max ms", "runs", *rate_cols, "vs baseline"]
        lines = []
        for r in timing:
            ratio = r.values.get("vs baseline")
            ratio_cell = f"{ratio:.3g}x {r.baseline}" if isinstance(ratio, float) else "-"
            cells = [_fmt(r.values[h]) if h in r.values else "" for h in headers[1:-1]]
            lines.append([r.name, *cells, ratio_cell])
        parts.append(_table(headers, lines))
    if figures:
        cols = list(dict.fromkeys(k for r in figures for k in r.values))
        lines = [[r.name, *(_fmt(r.values[c]) if c in r.values else "" for c in cols)] for r in figures]
        parts.append(_table(["name", *cols], lines))
    if failed:
        parts.append(_table(["name", "FAILED"], [[r.name, str(r.error).replace("|", "/")] for r in failed]))
    return "\n\n".join(parts)


def render_rows(rows: list[Row]) -> str:
    """One markdown table per group, in first-seen order."""
    groups = list(dict.fromkeys(r.group for r in rows))
    return "\n\n".join(f"## {g}\n\n{_group_table([r for r in rows if r.group == g])}" for g in groups)


def _sections(text: str) -> dict[str, str]:
    """``## group`` sections of an earlier RESULTS.md (group -> section text, header included)."""
    out: dict[str, str] = {}
    parts = ("\n" + text).split("\n## ")[1:]
    for part in parts:
        name = part.split("\n", 1)[0].strip()
        out[name] = "## " + part.rstrip() + "\n"
    return out


def merge_markdown(old: str, rows: list[Row], machine: dict[str, str], command: str) -> str:
    """RESULTS.md with this run's groups replaced and every other group of ``old`` kept as it was.

    Each group's section says when and by which command it was measured, so a file assembled from
    several runs stays honest about where each number comes from.
    """
    import datetime

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    machine_line = ", ".join(
        f"{k}: {v}" for k, v in machine.items() if k in ("cpu", "cores", "gpu", "torch threads")
    )
    kept = {g: t for g, t in _sections(old).items() if g not in {r.group for r in rows}}
    new = {}
    for g in dict.fromkeys(r.group for r in rows):
        body = _group_table([r for r in rows if r.group == g])
        new[g] = f"## {g}\n\n_Measured {stamp} by `{command}` ({machine_line})._\n\n{body}\n"
    merged = {**kept, **new}
    head = render_markdown([], machine, "python -m bench").split("No benchmarks ran.")[0]
    return head + "\n".join(merged[g] for g in sorted(merged)) + ("" if merged else "No benchmarks ran.\n")


def render_markdown(rows: list[Row], machine: dict[str, str], command: str) -> str:
    """The whole RESULTS.md: how it was produced, on what machine, then the tables."""
    head = [
        "# Benchmark results",
        "",
        f"Written by `{command}`; rerun it to refresh. Timings: median of the runs after one warm-up; "
        "'vs baseline' is this median divided by the baseline variant's median in the same run "
        "(below 1 = faster).",
        "",
        *(f"- {k}: {v}" for k, v in machine.items()),
        "",
    ]
    return "\n".join(head) + "\n" + (render_rows(rows) or "No benchmarks ran.") + "\n"


_current = Registry()


def register_timing(
    group: str,
    name: str,
    setup: Callable[[], Callable[[], object]],
    items: int = 1,
    unit: str = "item",
    repeats: int = MIN_REPEATS,
    baseline: str | None = None,
    heavy: bool = False,
) -> None:
    """Register a timed benchmark.

    Args:
        group: Table it appears in; ratios are computed within a group.
        name: Variant name, unique in the group.
        setup: Called once, untimed; returns the zero-argument callable to time.
        items: Items processed per call (for items/s).
        unit: What an item is ("photo", "batch"...).
        repeats: Timed calls after one warm-up; values below 5 are raised to 5.
        baseline: Name of the variant of the same group this one is compared with.
        heavy: Skipped by ``--quick``.
    """
    if items < 1:
        raise ValueError(f"{group}/{name}: items must be >= 1, got {items}")
    entry = TimingBench(group, name, setup, items, unit, max(MIN_REPEATS, int(repeats)), baseline, heavy)
    _current.add(entry)


def in_turn(
    items: Sequence[Any], call: Callable[[Any], object], answers: tuple[type[BaseException], ...] = ()
) -> Callable[[], object]:
    """The callable :func:`register_timing` times: ``call`` on the next of ``items`` each time, round robin.

    One input timed again and again gives that input's time, not the median over inputs (photos differ by
    their screws and clutter); with ``repeats=len(items)`` each item is timed once after the warm-up call.
    Exceptions of ``answers`` (e.g. NoScrewFoundError) are answers the user waits for too: timed, not raised.
    """
    import itertools

    cycle = itertools.cycle(items)

    def one() -> object:
        try:
            return call(next(cycle))
        except answers:
            return None

    return one


def register_figures(
    group: str,
    name: str,
    fn: Callable[[], dict[str, float | str]],
    quick_fn: Callable[[], dict[str, float | str]] | None = None,
    heavy: bool = False,
) -> None:
    """Register figures (accuracy, IoU...) computed once and shown as one table row.

    Args:
        group: Table it appears in.
        name: Row name, unique in the group.
        fn: Returns ``{column: value}``.
        quick_fn: Used instead of ``fn`` by ``--quick`` when given.
        heavy: Skipped by ``--quick`` (unless ``quick_fn`` is given).
    """
    _current.add(FigureBench(group, name, fn, quick_fn, heavy))


def collect(package: str = "bench") -> Registry:
    """Import (or re-import) every ``<package>.bench_*`` module into a fresh registry."""
    global _current
    _current = registry = Registry()
    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_"))
    for name in names:
        full = f"{package}.{name}"
        module = sys.modules.get(full)
        # Re-executing the module is what registers its benchmarks into the fresh registry.
        if module is not None:
            importlib.reload(module)
        else:
            importlib.import_module(full)
    return registry


def _time(entry: TimingBench, quick: bool) -> Row:
    fn = entry.setup()
    fn()  # warm-up: caches, lazy imports, allocator
    repeats = MIN_REPEATS if quick else entry.repeats
    times_ms = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times_ms.append((time.perf_counter_ns() - start) / 1e6)
    median = statistics.median(times_ms)
    return Row(
        entry.group,
        entry.name,
        "timing",
        {
            "median ms": median,
            "min ms": min(times_ms),
            "max ms": max(times_ms),
            "runs": repeats,
            f"{entry.unit}/s": entry.items / (median / 1e3) if median > 0 else float("inf"),
        },
        baseline=entry.baseline,
    )


def _run_one(entry: TimingBench | FigureBench, quick: bool) -> Row:
    try:
        if isinstance(entry, TimingBench):
            return _time(entry, quick)
        fn = entry.quick_fn if quick and entry.quick_fn is not None else entry.fn
        figures = fn()
        if not isinstance(figures, dict):
            raise TypeError(f"figures function returned {type(figures).__name__}, expected a dict")
        return Row(entry.group, entry.name, "figures", dict(figures))
    except Exception as e:  # one broken benchmark must not hide the others' results
        traceback.print_exc(file=sys.stderr)
        return Row(entry.group, entry.name, "failed", {}, error=f"{type(e).__name__}: {e}")


def _add_ratios(rows: list[Row]) -> None:
    medians = {(r.group, r.name): float(r.values["median ms"]) for r in rows if r.kind == "timing"}
    for row in rows:
        if row.kind == "timing" and row.baseline is not None:
            base = medians.get((row.group, row.baseline))  # None when the baseline failed or was skipped
            ratio = medians[(row.group, row.name)] / base if base else float("nan")
            row.values["vs baseline"] = ratio


def run(registry: Registry, *, only: Sequence[str] | None = None, quick: bool = False) -> list[Row]:
    """Run the selected benchmarks and return their rows (ratios filled in).

    Raises:
        ValueError: ``only`` names an unknown group, or a ``baseline`` names no variant of its group.
    """
    groups = registry.groups()
    unknown = [g for g in only or () if g not in groups]
    if unknown:
        raise ValueError(f"unknown group(s) {', '.join(unknown)}; registered groups: {', '.join(groups)}")
    selected = [e for e in registry.entries if not only or e.group in only]
    for e in selected:
        if (
            isinstance(e, TimingBench)
            and e.baseline is not None
            and not any(o.group == e.group and o.name == e.baseline for o in registry.entries)
        ):
            raise ValueError(
                f"{e.group}/{e.name}: baseline {e.baseline!r} is not a variant of group {e.group}"
            )
    rows = []
    for e in selected:
        if quick and e.heavy and not (isinstance(e, FigureBench) and e.quick_fn is not None):
            continue
        print(f"[bench] {e.group}/{e.name} ...", file=sys.stderr, flush=True)
        rows.append(_run_one(e, quick))
    _add_ratios(rows)
    return rows


def main(argv: Sequence[str] | None = None, *, package: str = "bench") -> int:
    """Command line: ``python -m bench [--only GROUP ...] [--quick] [--list] [--out PATH] [--threads N]``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run the registered benchmarks.")
    parser.add_argument("--only", nargs="+", metavar="GROUP", help="run only these groups")
    parser.add_argument("--quick", action="store_true", help="5 runs each, quick figures, skip heavy ones")
    parser.add_argument("--list", action="store_true", help="list the registered benchmarks and exit")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="results file (default bench/RESULTS.md)"
    )
    parser.add_argument("--threads", type=int, help="torch.set_num_threads before running")
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="also copy the tables into this README between the results markers",
    )
    args = parser.parse_args(argv)
    registry = collect(package)
    if args.list:
        for e in registry.entries:
            kind = "timing" if isinstance(e, TimingBench) else "figures"
            print(f"{e.group:<20} {e.name:<40} {kind}{'  (heavy)' if e.heavy else ''}")
        return 0
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    try:
        rows = run(registry, only=args.only, quick=args.quick)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    command = "python -m bench" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    print(render_rows(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    old = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
    tmp.write_text(merge_markdown(old, rows, machine_info(), command), encoding="utf-8")
    tmp.replace(args.out)
    if args.readme is not None and args.readme.is_file():
        update_readme(args.readme, args.out.read_text(encoding="utf-8"))
    print(f"[bench] wrote {args.out}", file=sys.stderr)
    return 1 if any(r.kind == "failed" for r in rows) else 0


_START, _END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(readme: Path, results: str) -> None:
    """Replace the text between the results markers of ``readme`` with the tables of ``results``."""
    text = readme.read_text(encoding="utf-8")
    if _START not in text or _END not in text:
        return
    body = "\n".join(("#" + line) if line.startswith("## ") else line for line in results.splitlines()[1:])
    pre, rest = text.split(_START, 1)
    post = rest.split(_END, 1)[1]
    readme.write_text(f"{pre}{_START}\n{body.strip()}\n{_END}{post}", encoding="utf-8")
