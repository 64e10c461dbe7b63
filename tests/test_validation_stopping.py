"""Stopping on validation: the score a run logs is the score ``halibench run`` gives its
checkpoint; patience stops the run; the best step survives pruning and is what is exported."""

import csv

import numpy as np
import pytest
import torch

from halibench.errors import HalibenchError
from halibench.models import preset
from halibench.models.checkpoints import BEST_FILE, resolve_folder
from halibench.training.trainer import TrainConfig, Trainer
from halibench.training.validation import ValidationScorer, check_logged_row, validation_protocol

PROTOCOL = """
name = "{name}"
version = "1.0"
dataset = "mnist"
description = "tiny: held-out train rows only"
seed = 3
metric = "error"
standardize = false
labels_per_class = [2]
draws = 2
draws_full = 2
probes = ["l2svm"]

[splits]
pool = {{ split = "train", start = 0, stop = 200 }}
validation = {{ split = "train", start = 200, stop = 250 }}
test = {{ split = "{test}", start = {start}, stop = {stop} }}

[probe.l2svm]
log_c = {{ start = -2.0, stop = 2.0, count = 3 }}
"""


def protocol_file(tmp_path, test="train", start=250, stop=300):
    path = tmp_path / f"val-{test}.toml"
    path.write_text(PROTOCOL.format(name=path.stem, test=test, start=start, stop=stop))
    return path


def tiny_run(root, tmp_path, protocol, resume=False, resume_changes=None, **kw):
    from halibench.training.data import training_data

    data = training_data("mnist", root, (0, 200), (200, 240))
    base = dict(steps=12, batch_size=16, checkpoint_every=3, health_every=0, log_every=1,
                train_range=(0, 200), health_range=(200, 240), validation=str(protocol),
                validate_every=3)
    cfg = TrainConfig(**(base | kw))
    return Trainer(preset("ali", "28px", width=0.25), cfg, tmp_path / "run", data,
                   resume=resume, resume_changes=resume_changes)


def rows(run_dir):
    with open(run_dir / "validation.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_logged_score_is_the_score_halibench_run_gives_the_checkpoint(tiny_mnist_root,
                                                                      tmp_path):
    from halibench.api import evaluate

    protocol = protocol_file(tmp_path)
    final = tiny_run(tiny_mnist_root, tmp_path, protocol, steps=3).fit()
    logged = rows(tmp_path / "run")
    assert [r["step"] for r in logged] == ["3"]
    records = evaluate(str(final), str(protocol), probes=["l2svm"], levels=["z1"],
                       results_dir=None, data_root=tiny_mnist_root, use_cache=False)
    assert float(logged[0]["z1"]) == pytest.approx(records[0]["mean"], abs=1e-3)
    assert float(logged[0]["score"]) == float(logged[0]["z1"])


def test_an_averaged_run_logs_its_raw_weights_scores_beside(tiny_mnist_root, tmp_path,
                                                            monkeypatch):
    from halibench.models.checkpoints import load_checkpoint

    def weight_sum(model):  # a score that tells the two weight sets apart
        return round(float(sum(p.detach().double().sum() for p in model.parameters())), 3)

    monkeypatch.setattr(ValidationScorer, "score", lambda self, model, levels=None: {
        "z1": weight_sum(model), "concat": -weight_sum(model), "score": weight_sum(model)})
    trainer = tiny_run(tiny_mnist_root, tmp_path, protocol_file(tmp_path), steps=3,
                       weight_average=0.5, lr=3e-3)
    final = trainer.fit()
    (logged,) = rows(tmp_path / "run")
    average, raw = weight_sum(load_checkpoint(final)[0]), weight_sum(trainer.model)
    assert average != raw
    assert float(logged["z1"]) == float(logged["score"]) == pytest.approx(average)
    assert float(logged["z1_raw"]) == pytest.approx(raw)
    assert float(logged["concat_raw"]) == pytest.approx(-raw)
    assert "score_raw" not in logged


def test_patience_stops_the_run_and_the_best_step_survives(tiny_mnist_root, tmp_path,
                                                           monkeypatch):
    scripted = iter([5.0, 4.0, 6.0, 7.0, 1.0])
    monkeypatch.setattr(ValidationScorer, "score",
                        lambda self, model, levels=None: {"z1": (s := next(scripted)),
                                                          "score": s})
    trainer = tiny_run(tiny_mnist_root, tmp_path, protocol_file(tmp_path), patience=2,
                       keep_checkpoints=1)
    final = trainer.fit()
    run = tmp_path / "run"
    assert final.name == "step-00000012"  # stopped after two scores without improvement
    assert [(r["step"], r["best_step"]) for r in rows(run)] == [
        ("3", "3"), ("6", "6"), ("9", "6"), ("12", "6")]
    assert (run / BEST_FILE).read_text().strip() == "step-00000006"
    assert sorted(p.name for p in run.glob("step-*")) == ["step-00000006", "step-00000012"]
    assert resolve_folder(run, BEST_FILE).name == "step-00000006"

    resumed = tiny_run(tiny_mnist_root, tmp_path, protocol_file(tmp_path), resume=True,
                       steps=30)
    assert (resumed.stopper.best_step, resumed.stopper.since_best) == (6, 2)


def test_export_ships_the_best_step(tiny_mnist_root, tmp_path, monkeypatch):
    from halibench.models.export import export_run

    scripted = iter([5.0, 4.0, 6.0, 7.0])
    monkeypatch.setattr(ValidationScorer, "score",
                        lambda self, model, levels=None: {"z1": (s := next(scripted)),
                                                          "score": s})
    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(tmp_path / "ship"))
    tiny_run(tiny_mnist_root, tmp_path, protocol_file(tmp_path), patience=2).fit()
    dest = export_run(tmp_path / "run", "tiny-ali", "mnist")
    import json
    assert json.loads((dest / "config.json").read_text())["step"] == 6
    assert len(rows(dest)) == 4  # the whole curve: why the run stopped where it did


def test_bad_validation_settings_are_refused_before_training(tiny_mnist_root, tmp_path):
    with pytest.raises(ValueError, match="multiple of --checkpoint-every"):
        TrainConfig(validation="x", validate_every=4, checkpoint_every=3)
    with pytest.raises(ValueError, match="go together"):
        TrainConfig(validate_every=3, checkpoint_every=3)
    with pytest.raises(ValueError, match="--patience needs"):
        TrainConfig(patience=2)
    with pytest.raises(HalibenchError, match="reads the dataset's test split"):
        validation_protocol(str(protocol_file(tmp_path, "test", 0, 50)), "mnist")
    with pytest.raises(HalibenchError, match="a protocol on mnist"):
        validation_protocol(str(protocol_file(tmp_path)), "cifar10")


def test_scorer_leaves_the_model_as_it_was(tiny_mnist_root, tmp_path):
    from halibench.models import build_model

    model = build_model(preset("hali", "28px", width=0.25)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scorer = ValidationScorer(validation_protocol(str(protocol_file(tmp_path)), "mnist"),
                              tiny_mnist_root)
    scores = scorer.score(model)
    assert set(scores) == {"z1", "z2", "concat", "score"}
    assert scores["score"] == min(scores["z1"], scores["z2"], scores["concat"])
    assert model.training and all(torch.equal(before[k], v)
                                  for k, v in model.state_dict().items())
    assert np.isfinite(list(scores.values())).all()


def test_a_resume_may_add_validation_to_a_run_trained_without(tiny_mnist_root, tmp_path,
                                                              monkeypatch):
    scripted = iter([3.0, 2.0])
    monkeypatch.setattr(ValidationScorer, "score",
                        lambda self, model, levels=None: {"z1": (s := next(scripted)),
                                                          "score": s})
    protocol = protocol_file(tmp_path)
    tiny_run(tiny_mnist_root, tmp_path, protocol, steps=3, validation=None,
             validate_every=0).fit()
    assert not (tmp_path / "run" / "validation.csv").exists()
    changes = {"validation": str(protocol), "validate_every": 3, "patience": 2}
    tiny_run(tiny_mnist_root, tmp_path, protocol, resume=True, steps=9,
             resume_changes=changes).fit()
    assert [r["step"] for r in rows(tmp_path / "run")] == ["6", "9"]
    with pytest.raises(HalibenchError, match="--resume: --validate-every and --validation"):
        tiny_run(tiny_mnist_root, tmp_path, protocol, resume=True, steps=12,
                 resume_changes={"validation": None})


def test_celeba_validation_protocol_holds_out_only_validation_ids():
    """The shipped CelebA stopping protocol trains its probes on the ids the model trains
    on (1-3000), scores ids 3001-3600 and never reads the subset's test ids (3601+)."""
    from halibench.evaluation.protocols import load_protocol
    from halibench.training.validation import check_held_out

    protocol = validation_protocol("celeba-recipe-validation", "celeba")
    subset_test = load_protocol("celeba-attributes-subset").splits["test"]
    assert all(r.split == subset_test.split and r.stop <= subset_test.start
               for r in protocol.splits.values())
    check_held_out(protocol, "present", (0, 3000))
    with pytest.raises(HalibenchError, match="lie inside --train-range"):
        check_held_out(protocol, "present", (0, 3300))
    with pytest.raises(HalibenchError, match="overlaps celeba-attributes-subset's test"):
        check_held_out(protocol, "present", (3600, 4283))


def test_a_validation_protocol_may_not_read_a_shipped_benchmarks_test_rows(tmp_path):
    """Test ids that live in a split not named "test" (CelebA's subset) are refused too."""
    from halibench.evaluation.protocols import benchmarks_dir

    text = (benchmarks_dir() / "celeba-recipe-validation.toml").read_text()
    leaky = tmp_path / "leaky.toml"
    leaky.write_text(text.replace('name = "celeba-recipe-validation"', 'name = "leaky"')
                     .replace("start = 3300, stop = 3600", "start = 3600, stop = 4283"))
    with pytest.raises(HalibenchError, match="overlap celeba-attributes-subset's test rows"):
        validation_protocol(str(leaky), "celeba")


@pytest.mark.parametrize("score", ["nan", "abc", ""])
def test_a_resume_refuses_a_validation_row_without_a_finite_score(tiny_mnist_root, tmp_path,
                                                                   monkeypatch, score):
    """A damaged score would decide the best step (NaN is never beaten): refused with the
    file and line before any training."""
    scripted = iter([3.0, 2.0])
    monkeypatch.setattr(ValidationScorer, "score",
                        lambda self, model, levels=None: {"z1": (s := next(scripted)),
                                                          "score": s})
    protocol = protocol_file(tmp_path)
    tiny_run(tiny_mnist_root, tmp_path, protocol, steps=6, validate_every=3, patience=2).fit()
    log = tmp_path / "run" / "validation.csv"
    lines = log.read_text().splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    first[head.index("score")] = score
    log.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    with pytest.raises(HalibenchError, match=r"validation\.csv, line 2: no step and finite"):
        tiny_run(tiny_mnist_root, tmp_path, protocol, resume=True, steps=9,
                 validate_every=3, patience=2)


@pytest.mark.parametrize("line", ["9000,2.74,13.62,2.7", "9000,2.74,13.62,2.74,9000,v 1.0,x"])
def test_a_logged_row_cut_short_or_too_long_is_refused(tmp_path, line):
    """A write cut short by a killed run can leave a truncated number in the last field it
    reached (2.74 read as 2.7): a row with more or fewer fields than the header is refused."""
    log = tmp_path / "validation.csv"
    log.write_text("step,classifier,z1,score,best_step,protocol\n" + line + "\n")
    with open(log, newline="") as f:
        row = next(csv.DictReader(f))
    with pytest.raises(HalibenchError, match=r"validation\.csv, line 2: not as many fields"):
        check_logged_row(row, log, 2)
    check_logged_row({"step": "9000", "score": "2.74", "protocol": "v 1.0"}, log, 2)
