"""The pipeline's seams: tasks, level checks, the table renderer and option generation."""

import pytest
from click.testing import CliRunner

from halibench.cli import cli
from halibench.evaluation.protocol_schema import TASKS
from halibench.evaluation.tasks import TASK_IMPLEMENTATIONS
from halibench.features.levels import LevelError, checked_levels
from halibench.jsonable import option_fields
from halibench.models.config import ModelConfig
from halibench.report.tables import markdown_table
from halibench.training.config import TrainConfig


def test_every_protocol_task_has_one_implementation():
    assert set(TASK_IMPLEMENTATIONS) == set(TASKS)


def test_checked_levels_default_unknown_repeated_and_empty():
    assert checked_levels(None, ["z1", "z2"], "m") == ["z1", "z2"]
    assert checked_levels(None, ["z1", "z2"], "m", default=["z2"]) == ["z2"]
    with pytest.raises(LevelError, match=r"^m: unknown level\(s\) \['z9'\]; valid levels"):
        checked_levels(["z9"], ["z1"], "m")
    with pytest.raises(LevelError, match="requested twice"):
        checked_levels(["z1", "z1"], ["z1"], "m")
    with pytest.raises(LevelError, match="no feature level"):
        checked_levels(None, ["z1"], "m", default=[])


def test_markdown_table_rows_and_cell_count():
    assert markdown_table(("a", "b"), [(1, "x")]) == ["| a | b |", "|---|---|", "| 1 | x |"]
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(("a",), [(1, 2)])


def test_train_offers_every_option_field_with_its_default():
    params = {p.name: p for p in cli.commands["train"].params}
    for owner, instance in ((TrainConfig, TrainConfig()), (ModelConfig, ModelConfig())):
        for f in option_fields(owner):
            assert f.name in params, f.name
            assert params[f.name].default == getattr(instance, f.name), f.name


def test_train_option_bounds_come_from_the_field():
    result = CliRunner().invoke(cli, ["train", "ali", "--label-smoothing", "0.7"])
    assert result.exit_code == 2 and "--label-smoothing" in result.output


def test_rows_of_an_earlier_shipped_checkpoint_are_marked():
    import pandas as pd

    from halibench.report.results import mark_superseded, model_cell

    table = pd.DataFrame({"model": ["hali-mnist", "hali-mnist", "raw-pixels", "mine"],
                          "checkpoint_sha256": ["old", "new", "", "x"], "subset": [""] * 4,
                          "official": [True] * 4})
    marked = mark_superseded(table, {"hali-mnist": "new"})
    assert marked["superseded"].tolist() == [True, False, False, False]
    cells = [model_cell(r) for r in marked.itertuples()]
    assert cells[0] == "hali-mnist (earlier checkpoint)" and cells[1] == "hali-mnist"


def test_a_checkpoint_scored_under_several_names_shows_once(caplog):
    import pandas as pd

    from halibench.report.results import KEY, merge_aliases, model_cell

    base = {k: "v" for k in KEY} | {"checkpoint_sha256": "s", "mean": 3.22, "std": 0.0,
                                   "subset": "", "official": True, "created": "2",
                                   "official_data": True}
    table = pd.DataFrame([base | {"model": "runs/hali-ss-xl-s2", "created": "1"},
                          base | {"model": "hali-mnist-semisup"},
                          base | {"model": "runs/copy", "mean": 3.22 + 1e-12},
                          base | {"model": "runs/other-seed", "mean": 4.0},
                          base | {"model": "mine", "checkpoint_sha256": "t", "created": "3"},
                          base | {"model": "mine-again", "checkpoint_sha256": "t"},
                          base | {"model": "raw", "checkpoint_sha256": None},
                          base | {"model": "hog", "checkpoint_sha256": None}])
    with caplog.at_level("WARNING", logger="halibench"):
        merged = merge_aliases(table, {"hali-mnist-semisup": "s"})
    assert merged["model"].tolist() == ["hali-mnist-semisup", "runs/other-seed",
                                        "mine-again", "raw", "hog"]
    assert model_cell(next(merged.itertuples())) == (
        "hali-mnist-semisup (also scored as runs/copy, runs/hali-ss-xl-s2)")
    assert "checkpoint s scored" in caplog.text and "runs/other-seed 4.00" in caplog.text
    assert "checkpoint t" not in caplog.text


def test_cpu_description_reads_model_name_and_bf16_flags(tmp_path):
    from halibench.environment import cpu_description

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9B45\n"
                    "flags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert cpu_description(info) == {"cpu": "AMD EPYC 9B45", "avx512_bf16": True,
                                     "amx_bf16": False}
    info.write_text("model name\t: Intel Xeon\nflags\t\t: avx512f amx_bf16 amx_tile\n")
    assert cpu_description(info)["amx_bf16"] and not cpu_description(info)["avx512_bf16"]


def test_bf16_on_a_cpu_without_bf16_instructions_warns(monkeypatch, caplog):
    import torch

    from halibench.training import trainer

    cpu = {"cpu": "Old Xeon", "avx512_bf16": False, "amx_bf16": False}
    monkeypatch.setattr(trainer, "cpu_description", lambda: cpu)
    with caplog.at_level("WARNING", logger="halibench"):
        trainer.warn_slow_bf16(TrainConfig(autocast="none"), torch.device("cpu"))
        assert not caplog.text
        trainer.warn_slow_bf16(TrainConfig(autocast="bf16"), torch.device("cpu"))
        assert "Old Xeon, a CPU without avx512_bf16 or AMX" in caplog.text
        caplog.clear()
        cpu["avx512_bf16"] = True
        trainer.warn_slow_bf16(TrainConfig(autocast="bf16"), torch.device("cpu"))
        assert not caplog.text
