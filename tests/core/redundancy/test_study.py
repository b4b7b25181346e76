from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from core.redundancy import StudyConfig, estimate_redundancy, run_study, student_plan, write_report
from core.redundancy.__main__ import main
from core.redundancy.data import load_image_folder

from .conftest import write_folder


def _rows(errors: dict[str, list[float]], stage: str) -> list[dict]:
    return [
        {"stage": stage, "variant": v, "repeat": 0, "fold": i, "error": e}
        for v, es in errors.items()
        for i, e in enumerate(es)
    ]


def _results(tiling: dict[str, float], masks: dict[str, float]) -> list[dict]:
    # Three folds per variant with a spread of +-0.02 around the given mean (std 0.02).
    spread = (-0.02, 0.0, 0.02)
    t = {v: [m + s for s in spread] for v, m in tiling.items()}
    k = {v: [m + s for s in spread] for v, m in masks.items()}
    return _rows(t, "tiling") + _rows(k, "mask")


def test_estimate_one_quarter():
    tiling = {"DN": 0.30, "MH": 0.31, "MH0": 0.32, "MH1": 0.40, "CHB": 0.40, "CHB0": 0.45, "CHB1": 0.31}
    masks = {"REF": 0.30, "MH0-a": 0.36, "MH0-b": 0.31, "CHB0-a": 0.40, "CHB0-b": 0.41}
    est = estimate_redundancy(_results(tiling, masks), fold_size=100, chance_error=0.9)
    assert est.tol_dn == pytest.approx(0.02)
    assert est.redundancy == 0.25
    assert [r["tiling_passes"] for r in est.rows] == [True, False, False]
    assert est.rows[0]["best_mask"] == "MH0-b" and est.rows[0]["confirmed"]
    assert est.stride2_ok
    assert student_plan(est) == {"width": 0.75, "first_stride": 2}


def test_tiling_pass_without_mask_confirmation_is_not_accepted():
    tiling = {"DN": 0.30, "MH": 0.30, "MH0": 0.30, "MH1": 0.30}
    masks = {"REF": 0.30, "MH0-a": 0.50}
    est = estimate_redundancy(_results(tiling, masks), fold_size=100)
    assert est.rows[0]["tiling_passes"] and not est.rows[0]["confirmed"]
    assert est.redundancy == 0.0
    assert student_plan(est) == {"width": 1.0, "first_stride": 1}


def test_tolerance_floor_and_chance_guard():
    tiling = {"DN": 0.30, "MH": 0.32, "MH0": 0.35, "MH1": 0.33}
    masks = {"REF": 0.30, "MH0-a": 0.33}
    # std 0.02 < 1/20 = 0.05: the floor of one test image decides, so 1/4 passes.
    assert estimate_redundancy(_results(tiling, masks), fold_size=20).redundancy == 0.25
    assert estimate_redundancy(_results(tiling, masks), fold_size=100).redundancy == 0.0
    at_chance = estimate_redundancy(_results(tiling, masks), fold_size=20, chance_error=0.31)
    assert not at_chance.informative and at_chance.redundancy == 0.0
    with pytest.raises(ConfigError):
        estimate_redundancy(_rows({"DN": [0.1]}, "tiling"), fold_size=10)


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="valid"):
        StudyConfig(backbone="alexnet")
    with pytest.raises(ConfigError, match="DN"):
        StudyConfig(tiling_methods=("MH",))
    with pytest.raises(ConfigError):
        StudyConfig(folds=1)


def test_tiny_study_end_to_end(tmp_path, tiny_folder):
    cfg = StudyConfig(
        backbone="vgg_tiny", size=16, folds=2, epochs=1, batch_size=4, device="cpu",
        tiling_methods=("DN", "MH0"), masks=("REF", "MH0-a"), latency_repeats=1,
    )  # fmt: skip
    data = load_image_folder(tiny_folder, size=16, folds=2)
    seen = []
    result = run_study(data, cfg, lambda d, t, w: seen.append((d, t)))
    assert seen[-1] == (12, 12)  # 2 tiling + 2 masks, x 2 folds, + 2 x 2 students
    assert {(r["stage"], r["variant"]) for r in result.runs} == {
        ("tiling", "DN"), ("tiling", "MH0"), ("mask", "REF"), ("mask", "MH0-a"),
        ("student", "student"), ("student", "distilled"),
    }  # fmt: skip
    assert all(0.0 <= r["error"] <= 1.0 for r in result.runs)
    assert [m["model"] for m in result.models] == ["teacher (DN)", "student alone", "distilled student"]
    assert result.models[0]["cpu_b1_ms"] > 0 and result.models[0]["params"] >= result.models[1]["params"]
    report = write_report(result, tmp_path / "out", str(tiny_folder)).read_text()
    for title in ("Table 1", "Table 2", "Table 3", "Table 4", "Decision rule", "| MH0 |", "| MH0-a |"):
        assert title in report
    assert (tmp_path / "out" / "tiling.png").is_file()
    assert json.loads((tmp_path / "out" / "results.json").read_text())["classes"] == ["a", "b"]


def test_cli_reports_bad_input_with_a_typed_message(tmp_path, capsys):
    root = write_folder(tmp_path / "one", {"only": 4})
    out = tmp_path / "out"
    assert main(["study", "--data", str(root), "--out", str(out)]) == 2
    assert "at least two" in capsys.readouterr().err
    progress = json.loads((out / "progress.json").read_text())
    assert progress["status"] == "failed" and "at least two" in progress["error"]


def test_report_rerenders_from_results_json(tmp_path, tiny_folder, capsys):
    cfg = StudyConfig(
        backbone="vgg_tiny", size=16, folds=2, epochs=1, batch_size=4, device="cpu",
        tiling_methods=("DN",), masks=("REF",), latency_repeats=1,
    )  # fmt: skip
    result = run_study(load_image_folder(tiny_folder, size=16, folds=2), cfg)
    out = tmp_path / "out"
    first = write_report(result, out, "somewhere").read_text()
    (out / "report.md").unlink()
    assert main(["report", "--out", str(out)]) == 0
    assert (out / "report.md").read_text() == first
    assert main(["report", "--out", str(tmp_path / "empty")]) == 2
    assert "run a study" in capsys.readouterr().err


def test_command_lines_match_the_cli():
    from core.redundancy import studio_command, study_command

    cmd = study_command("/data/heads", backbone="vgg16_bn", size=128, device="cuda")
    assert cmd[:4] == ["python", "-m", "core.redundancy", "study"]
    args = main.__globals__["_parser"]().parse_args(cmd[3:])
    assert (args.data, args.out, args.backbone, args.size, args.device) == (
        "/data/heads", "{run_dir}", "vgg16_bn", 128, "cuda",
    )  # fmt: skip
    assert main.__globals__["_parser"]().parse_args(studio_command("/x", 5)[3:]).n_per_class == 5
    with pytest.raises(ConfigError, match="valid"):
        study_command("/d", backbone="resnet")
    with pytest.raises(ConfigError, match="device"):
        study_command("/d", device="tpu")
