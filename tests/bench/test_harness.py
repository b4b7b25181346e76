from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from bench import harness

# A fake benchmark package: a clock the harness reads, and modules that advance it by known amounts,
# so medians and ratios are exact instead of depending on this (shared, noisy) machine.
_INIT = "CLOCK = {'now': 0}\nCALLS = {}\n"
_TIMED = """
from bench.harness import register_figures, register_timing
from {pkg} import CALLS, CLOCK


def _setup(name, durations_ms):
    def setup():
        todo = iter(durations_ms)

        def fn():
            CALLS[name] = CALLS.get(name, 0) + 1
            CLOCK["now"] += int(next(todo) * 1e6)

        return fn

    return setup


# first value is the untimed warm-up
register_timing(group="g1", name="slow", setup=_setup("slow", [100, 5, 1, 3, 2, 4]), items=2, unit="photo")
register_timing(group="g1", name="fast", setup=_setup("fast", [100, 1, 2, 1, 1.5, 2]), baseline="slow")
register_timing(group="g2", name="heavy one", setup=_setup("heavy", [1] * 6), heavy=True)
register_figures(group="fig", name="held-out", fn=lambda: {{"accuracy": 0.75, "split": "test"}},
                 quick_fn=lambda: {{"accuracy": 0.5, "split": "quick"}})
"""
_BROKEN = """
from bench.harness import register_figures

def boom():
    raise RuntimeError("model file missing")

register_figures(group="fig", name="broken", fn=boom)
"""


@pytest.fixture
def fake_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    name = f"fakebench_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(_INIT)
    (pkg / "bench_timed.py").write_text(textwrap.dedent(_TIMED.format(pkg=name)))
    (pkg / "helpers.py").write_text("raise AssertionError('only bench_*.py modules are imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    monkeypatch.setattr(harness.time, "perf_counter_ns", lambda: module.CLOCK["now"])
    yield name, pkg, module
    for key in [k for k in sys.modules if k.startswith(name)]:
        del sys.modules[key]


def test_collect_registers_bench_modules_only(fake_pkg, capsys: pytest.CaptureFixture[str]):
    name, _, _ = fake_pkg
    registry = harness.collect(name)
    assert [(e.group, e.name) for e in registry.entries] == [
        ("g1", "slow"),
        ("g1", "fast"),
        ("g2", "heavy one"),
        ("fig", "held-out"),
    ]
    assert harness.collect(name).groups() == ["g1", "g2", "fig"]  # re-collecting does not duplicate
    assert harness.main(["--list"], package=name) == 0
    assert "heavy one" in capsys.readouterr().out


def test_median_min_max_rate_and_ratio(fake_pkg):
    name, _, module = fake_pkg
    rows = {r.name: r for r in harness.run(harness.collect(name), only=["g1"])}
    slow, fast = rows["slow"].values, rows["fast"].values
    assert (slow["median ms"], slow["min ms"], slow["max ms"], slow["runs"]) == (3.0, 1.0, 5.0, 5)
    assert slow["photo/s"] == pytest.approx(2 / 0.003)  # items=2 per call
    assert fast["median ms"] == 1.5 and fast["item/s"] == pytest.approx(1 / 0.0015)
    assert fast["vs baseline"] == pytest.approx(0.5) and "vs baseline" not in slow
    assert module.CALLS == {"slow": 6, "fast": 6}  # one warm-up + 5 timed calls each


def test_results_file_and_quick_mode(fake_pkg, tmp_path: Path):
    name, _, module = fake_pkg
    out = tmp_path / "out" / "RESULTS.md"
    assert harness.main(["--quick", "--out", str(out)], package=name) == 0
    text = out.read_text()
    for needle in ("date:", "cpu:", "cores:", "ram:", "torch:", "torch threads:", "gpu:", "--quick"):
        assert needle in text
    assert "| slow | 3 | 1 | 5 | 5 | 666.7 |" in text
    assert "| fast | 1.5 |" in text and "0.5x slow" in text
    assert "## fig" in text and "| held-out | 0.5 | quick |" in text  # quick_fn used
    assert "heavy" not in module.CALLS  # heavy skipped by --quick

    # A later run of one group replaces that group's section and keeps the others, each stamped.
    readme = tmp_path / "README.md"
    readme.write_text("# P\n\n<!-- results:start -->\nold\n<!-- results:end -->\n\ntail\n")
    assert harness.main(["--only", "fig", "--out", str(out), "--readme", str(readme)], package=name) == 0
    text = out.read_text()
    assert "| held-out | 0.75 | test |" in text and "| held-out | 0.5 | quick |" not in text
    assert "## g1" in text and "| slow | 3 |" in text
    assert text.count("_Measured ") == text.count("\n## ") and "--only fig" in text
    rd = readme.read_text()
    assert (
        "old" not in rd and "### fig" in rd and "| held-out | 0.75 | test |" in rd and rd.endswith("tail\n")
    )


def test_failures_are_reported_not_fatal(fake_pkg, tmp_path: Path):
    name, pkg, _ = fake_pkg
    (pkg / "bench_broken.py").write_text(_BROKEN)
    out = tmp_path / "R.md"
    assert harness.main(["--only", "fig", "--out", str(out)], package=name) == 1
    text = out.read_text()
    assert "RuntimeError: model file missing" in text and "| held-out | 0.75 |" in text


def test_bad_selection_and_bad_registration(fake_pkg, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    name, pkg, _ = fake_pkg
    assert harness.main(["--only", "nope", "--out", str(tmp_path / "R.md")], package=name) == 2
    assert "registered groups: g1, g2, fig" in capsys.readouterr().err
    assert not (tmp_path / "R.md").exists()

    (pkg / "bench_typo.py").write_text(
        "from bench.harness import register_timing\n"
        "register_timing(group='g1', name='typo', setup=lambda: (lambda: None), baseline='slwo')\n"
    )
    assert harness.main(["--out", str(tmp_path / "R.md")], package=name) == 2
    assert "baseline 'slwo' is not a variant of group g1" in capsys.readouterr().err

    registry = harness.collect(name)
    with pytest.raises(ValueError, match="registered twice"):
        harness.register_timing(group="g1", name="slow", setup=lambda: lambda: None)
    harness.register_timing(group="g9", name="few", setup=lambda: lambda: None, repeats=2)
    assert registry.entries[-1].repeats == harness.MIN_REPEATS  # median of >= 5 runs, always


def test_in_turn_takes_each_item_once_per_round_and_times_expected_errors():
    from bench.harness import in_turn

    seen: list[int] = []

    def call(i: int) -> int:
        seen.append(i)
        if i == 2:
            raise KeyError(i)  # an answer (e.g. "no screw found"), not a failure
        return i * 10

    one = in_turn([0, 1, 2], call, (KeyError,))
    assert [one() for _ in range(4)] == [0, 10, None, 0]
    assert seen == [0, 1, 2, 0]
    with pytest.raises(KeyError):
        in_turn([2], call)()  # not listed as an answer: raised
