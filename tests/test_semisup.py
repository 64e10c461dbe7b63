"""Semi-supervised (K+1)-class training and its own-classifier task, on tiny fixtures: the
labels are the protocol's draw, the record's error is the model's argmax error, and every
mismatch between a model and a protocol is refused before anything runs."""

import json
import math

import numpy as np
import pytest
import torch
from data_fixtures import TINY_VALIDATION, validation_protocol_file

from halibench.errors import HalibenchError
from halibench.evaluation.protocols import balanced_draws, load_protocol
from halibench.models import build_model, preset
from halibench.models.checkpoints import load_checkpoint
from halibench.models.layers import GaussianNoise
from halibench.training.trainer import TrainConfig, Trainer, adversarial_step, class_entropy

OWN = """
name = "{name}"
version = "1.0"
dataset = "mnist"
task = "own-classifier"
seed = 5
metric = "error"
labels_per_class = [2, 3]
draws = 1
probes = ["own"]

[splits]
pool = {{ split = "train", start = 0, stop = 200 }}
validation = {{ split = "train", start = 200, stop = 250 }}
test = {{ split = "test", start = 0, stop = 100 }}
"""


def own_protocol(tmp_path, name="tiny-own"):
    path = tmp_path / f"{name}.toml"
    path.write_text(OWN.format(name=name))
    return path


def semisup_config(tmp_path, **kw):
    base = dict(steps=4, batch_size=16, checkpoint_every=2, health_every=0, log_every=1,
                train_range=(0, 200), health_range=(200, 240), labels_per_class=2,
                label_protocol=str(own_protocol(tmp_path)), labelled_batch=8,
                validation=str(validation_protocol_file(tmp_path)), validate_every=2)
    return TrainConfig(**(base | kw))


def tiny_semisup(root, tmp_path, kind="hali", **kw):
    from halibench.training.data import training_data

    cfg = semisup_config(tmp_path, **kw)
    data = training_data("mnist", root, (0, 200), (200, 240), config=cfg)
    model = preset(kind, "28px", width=0.25, hidden_dim=32, classes=10)
    return Trainer(model, cfg, tmp_path / "run", data), data


@pytest.mark.parametrize("fake_logit", ["zero", "learned"])
def test_adversarial_logit_is_log_odds_of_any_class_against_fake(fake_logit):
    torch.manual_seed(0)
    model = build_model(preset("hali", "28px", width=0.25, hidden_dim=32, classes=4,
                               fake_logit=fake_logit)).eval()
    x = torch.rand(5, 1, 28, 28)
    z = model.encode(x)
    raw = model.discriminator(x, z, raw=True)
    assert raw.shape == (5, 4 + (fake_logit == "learned"))
    fake = raw[:, 4:] if fake_logit == "learned" else torch.zeros(5, 1)
    expected = torch.logsumexp(raw[:, :4], 1, keepdim=True) - fake
    assert torch.allclose(model.discriminator(x, z), expected, atol=1e-6)
    assert torch.equal(model.classify(x), raw[:, :4])
    assert "classifier" in model.feature_levels


def test_semi_supervised_config_is_checked():
    with pytest.raises(ValueError, match="joint discriminator"):
        preset("hali", "28px", classes=10, discriminator="pairs")
    with pytest.raises(ValueError, match="at least 2"):
        preset("ali", "28px", classes=1)
    with pytest.raises(ValueError, match="--labels-per-class"):
        TrainConfig(unlabelled="none")
    with pytest.raises(ValueError, match="--supervised-weight is a semi-supervised option"):
        TrainConfig(supervised_weight=3.0)
    with pytest.raises(ValueError, match="trains the classifier alone"):
        TrainConfig(labels_per_class=1, unlabelled="none", generator_loss="feature-matching")
    with pytest.raises(ValueError, match="--entropy-weight is a semi-supervised option"):
        TrainConfig(entropy_weight=0.1)
    with pytest.raises(ValueError, match="--entropy-weight"):
        TrainConfig(labels_per_class=1, unlabelled="none", entropy_weight=0.1)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="--entropy-weight .*give a finite number >= 0"):
            TrainConfig(labels_per_class=1, entropy_weight=bad)


@pytest.mark.parametrize("change", ['metric = "accuracy"', "standardize = true", "draws = 7"])
def test_own_classifier_protocols_score_one_draw_as_an_error(tmp_path, change):
    from halibench.evaluation.protocol_schema import ProtocolError

    path = own_protocol(tmp_path)
    key = change.split(" = ")[0]
    lines = [line for line in path.read_text().splitlines() if not line.startswith(key)]
    path.write_text("\n".join([*lines[:4], change, *lines[4:]]))
    with pytest.raises(ProtocolError, match="own-classifier scores one draw"):
        load_protocol(str(path))


def test_a_resumed_run_keeps_its_labelled_draw(tiny_mnist_root, tmp_path):
    from halibench.training.data import training_data
    from halibench.training.labels import check_same_draw

    first = training_data("mnist", tiny_mnist_root, (0, 200), (200, 240),
                          config=semisup_config(tmp_path)).labelled
    check_same_draw(first.spec, first, "run")
    other = training_data("mnist", tiny_mnist_root, (0, 200), (200, 240),
                          config=semisup_config(tmp_path, label_draw=1)).labelled
    with pytest.raises(HalibenchError, match="labelled draw differs"):
        check_same_draw(first.spec, other, "run")
    with pytest.raises(HalibenchError, match="labelled draw differs"):
        check_same_draw(None, other, "run")


def test_labels_are_the_protocols_draw(tiny_mnist_root, tmp_path):
    from halibench.data import load
    from halibench.training.data import training_data

    cfg = semisup_config(tmp_path, label_draw=1)
    data = training_data("mnist", tiny_mnist_root, (0, 200), (200, 240), config=cfg)
    pool_labels = np.asarray(load("mnist", "train", tiny_mnist_root).labels[0:200])
    expected = np.sort(balanced_draws(pool_labels, 2, 2, 5)[1])
    assert np.array_equal(data.labelled.rows, expected)
    assert np.array_equal(data.labelled.labels.numpy(), pool_labels[expected])
    assert data.labelled.spec["draw"] == 1 and data.labelled.spec["count"] == 20


def test_labelled_and_unlabelled_rows_may_not_be_validation_rows(tiny_mnist_root, tmp_path):
    from halibench.training.data import training_data

    bad = tmp_path / "bad-val.toml"  # its test rows are pool rows of the labels' protocol
    bad.write_text(TINY_VALIDATION.replace('"tiny-val"', '"bad-val"').replace(
        "start = 0, stop = 200", "start = 100, stop = 200").replace(
        "start = 250, stop = 300", "start = 0, stop = 100"))
    cfg = semisup_config(tmp_path, validation=str(bad))
    with pytest.raises(HalibenchError, match="test rows 0:100 lie inside --train-range 0:200"):
        training_data("mnist", tiny_mnist_root, (0, 200), (200, 240), config=cfg)


def test_own_classifier_record_is_the_models_argmax_error(tiny_mnist_root, tmp_path,
                                                          monkeypatch):
    import halibench.evaluation.benchmark as benchmark
    from halibench.api import evaluate
    from halibench.data import load

    trainer, _ = tiny_semisup(tiny_mnist_root, tmp_path)
    final = trainer.fit()
    model, config = load_checkpoint(final)
    assert config["labels"]["labels_per_class"] == 2 and model.trained_labels["draw"] == 0
    rows = (tmp_path / "run" / "validation.csv").read_text().splitlines()
    assert rows[0].startswith("step,classifier,z1,score")
    extracted = []  # rows of every split whose features were computed

    def counting(source, identity, images, *args, **kwargs):
        extracted.append(len(images()))
        return real(source, identity, images, *args, **kwargs)

    real = benchmark.cached_features
    monkeypatch.setattr(benchmark, "cached_features", counting)
    records = evaluate(str(final), str(own_protocol(tmp_path)), results_dir=None,
                       data_root=tiny_mnist_root, use_cache=False)
    assert sorted(extracted) == [50, 100]  # validation and test; nothing is fitted on the pool
    assert [(r["level"], r["probe"], r["labels_per_class"]) for r in records] == [
        ("classifier", "own", 2)]  # only the label setting it trained with
    test = load("mnist", "test", tiny_mnist_root)
    with torch.no_grad():
        x = torch.from_numpy(np.array(test.images[:100])).float() / 255
        predicted = model.classify(x).argmax(1).numpy()
    error = 100 * np.mean(predicted != np.asarray(test.labels[:100]))
    assert records[0]["mean"] == pytest.approx(error)
    assert records[0]["draws"][0]["draw"] == 0


def test_mismatched_models_and_protocols_are_refused(tiny_mnist_root, tmp_path):
    from halibench.api import evaluate

    trainer, _ = tiny_semisup(tiny_mnist_root, tmp_path, steps=2, validate_every=0,
                              validation=None)
    final = trainer.fit()
    own = str(own_protocol(tmp_path))
    with pytest.raises(HalibenchError, match="trained with 2 labels per class"):
        evaluate(str(final), own, labels_per_class=[3], data_root=tiny_mnist_root)
    with pytest.raises(HalibenchError, match="one draw"):
        evaluate(str(final), own, draws=5, data_root=tiny_mnist_root)
    with pytest.raises(HalibenchError, match="--level classifier"):
        evaluate(str(final), str(validation_protocol_file(tmp_path)), levels=["classifier"],
                 data_root=tiny_mnist_root)
    other = own_protocol(tmp_path, "other-own")
    other.write_text(other.read_text().replace("seed = 5", "seed = 6"))
    with pytest.raises(HalibenchError, match="trained with labels"):
        evaluate(str(final), str(other), data_root=tiny_mnist_root)
    with pytest.raises(HalibenchError, match="probes frozen features"):
        evaluate(str(final), str(validation_protocol_file(tmp_path)), probes=["own"],
                 data_root=tiny_mnist_root)
    with pytest.raises(HalibenchError, match="own classifier"):
        evaluate(str(final), own, probes=["l2svm"], data_root=tiny_mnist_root)
    with pytest.raises(HalibenchError, match="no classifier of its own"):
        evaluate("untrained-hali", own, data_root=tiny_mnist_root)
    config_file = final / "config.json"
    edited = json.loads(config_file.read_text())
    edited["labels"]["draw"] = 1  # a hand edit: the rows it trained on are draw 0's
    config_file.write_text(json.dumps(edited))
    with pytest.raises(HalibenchError, match="recorded labelled rows"):
        evaluate(str(final), own, data_root=tiny_mnist_root, use_cache=False)
    for damaged in (10**9, "0", -1, None):  # never a draw to recompute, nor a traceback
        edited["labels"]["draw"] = damaged
        config_file.write_text(json.dumps(edited))
        with pytest.raises(HalibenchError, match="recorded labelled draw"):
            evaluate(str(final), own, data_root=tiny_mnist_root, use_cache=False)


def test_a_supervised_only_run_says_so_in_its_health_log_and_records(tiny_mnist_root,
                                                                      tmp_path):
    import csv

    from halibench.api import evaluate
    from halibench.report.results import deviation, official_protocols

    trainer, _ = tiny_semisup(tiny_mnist_root, tmp_path, kind="ali", steps=2, health_every=2,
                              validate_every=0, validation=None, unlabelled="none")
    final = trainer.fit()
    with open(tmp_path / "run" / "health.csv", newline="") as f:
        health = list(csv.DictReader(f))
    assert health and all(math.isnan(float(r["d_acc_encoder"])) for r in health)
    record = evaluate(str(final), str(own_protocol(tmp_path)), results_dir=None,
                      data_root=tiny_mnist_root, use_cache=False)[0]
    assert record["trained_labels"]["unlabelled"] == "none"
    as_official = record | {"benchmark": "mnist-semisup-own", "protocol_version": "1.0",
                            "labels_per_class": 10, "deviation": None,
                            "protocol_sha256": official_protocols()["mnist-semisup-own"]["1.0"]}
    assert deviation(as_official).startswith("supervised only")
    assert deviation(as_official | {"trained_labels": {"unlabelled": "adversarial"}}) == ""


def test_supervised_only_step_trains_the_classifier_and_encoder_alone():
    torch.manual_seed(0)
    model = build_model(preset("ali", "28px", width=0.25, hidden_dim=32, classes=3))
    opt_g = torch.optim.Adam(model.generators.parameters())
    opt_d = torch.optim.Adam(model.discriminator.parameters())
    dec_before = [p.detach().clone() for p in model.generators.decoder.parameters()]
    enc_before = [p.detach().clone() for p in model.generators.encoder.parameters()]
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    cfg = TrainConfig(labels_per_class=1, unlabelled="none")
    labelled = (torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2]))
    metrics = adversarial_step(model.generators, model.discriminator, opt_g, opt_d,
                               torch.rand(4, 1, 28, 28), config=cfg, labelled=labelled)
    assert math.isnan(metrics["loss_g"]) and math.isnan(metrics["d_acc_encoder"])
    assert "labelled_acc" in metrics
    def changed(before, module):
        return [not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True)]

    assert not any(changed(dec_before, model.generators.decoder))
    assert any(changed(enc_before, model.generators.encoder))
    assert any(changed(d_before, model.discriminator))


def test_class_entropy_is_log_k_when_undecided_and_zero_when_sure():
    assert class_entropy(torch.zeros(5, 10)).item() == pytest.approx(math.log(10))
    sure = torch.tensor([[50.0, 0.0, 0.0], [0.0, 0.0, 50.0]])
    assert class_entropy(sure).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("updates", ["alternating", "simultaneous"])
@pytest.mark.parametrize("fake_logit", ["zero", "learned"])
def test_entropy_weight_adds_the_unlabelled_encoder_tuples_class_entropy_to_d(fake_logit,
                                                                              updates):
    """D's loss gains weight x the entropy of the K class logits (not the learned fake one)
    of the unlabelled encoder tuples (the first batch of D's pass), and its gradient reaches
    D only, never the chains."""
    labelled = (torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2]))
    x = torch.rand(4, 1, 28, 28)

    def step(weight):
        torch.manual_seed(0)
        model = build_model(preset("ali", "28px", width=0.25, hidden_dim=32, classes=3,
                                   fake_logit=fake_logit))
        model.eval()  # no dropout: both steps see one D
        outputs: list[torch.Tensor] = []
        model.discriminator.register_forward_hook(lambda _m, _a, out: outputs.append(out))
        torch.manual_seed(1)
        metrics = adversarial_step(
            model.generators, model.discriminator,
            torch.optim.SGD(model.generators.parameters(), lr=0.0),
            torch.optim.SGD(model.discriminator.parameters(), lr=0.0), x,
            config=TrainConfig(labels_per_class=1, entropy_weight=weight, updates=updates),
            labelled=labelled)
        grads = [[p.grad.clone() for p in m.parameters() if p.grad is not None]
                 for m in (model.discriminator, model.generators)]
        return metrics, outputs[0].detach(), grads

    plain, _, (d_plain, g_plain) = step(0.0)
    with_entropy, out, (d_entropy, g_entropy) = step(0.5)
    assert "class_entropy" not in plain
    expected = class_entropy(out[:4, :3]).item()
    assert with_entropy["class_entropy"] == pytest.approx(expected, rel=1e-5)
    assert with_entropy["loss_d"] == pytest.approx(plain["loss_d"] + 0.5 * expected, rel=1e-5)
    assert with_entropy["loss_g"] == plain["loss_g"]
    assert any(not torch.equal(a, b) for a, b in zip(d_plain, d_entropy, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(g_plain, g_entropy, strict=True))


@pytest.mark.parametrize("unlabelled", ["adversarial", "none"])
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_instance_noise_reaches_the_labelled_images_as_well(noise, unlabelled):
    torch.manual_seed(0)
    model = build_model(preset("ali", "28px", width=0.25, hidden_dim=32, classes=3))
    seen: list[torch.Tensor] = []
    model.discriminator.register_forward_pre_hook(lambda _m, args, *_: seen.append(args[0]))
    labelled = (torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2]))
    adversarial_step(model.generators, model.discriminator,
                     torch.optim.Adam(model.generators.parameters()),
                     torch.optim.Adam(model.discriminator.parameters()),
                     torch.rand(4, 1, 28, 28), noise_std=noise,
                     config=TrainConfig(labels_per_class=1, unlabelled=unlabelled),
                     labelled=labelled)
    # D's one pass: 4 encoder, 4 decoder tuples, then the 6 labelled (only those without
    # unlabelled images)
    shown = seen[0][-6:]
    assert torch.equal(shown, labelled[0]) == (noise == 0.0)


def test_hidden_noise_perturbs_the_discriminator_in_training_only():
    x, z = torch.rand(4, 1, 28, 28), [torch.randn(4, 64), torch.randn(4, 32)]
    plain = build_model(preset("hali", "28px", width=0.25, hidden_dim=32, classes=3))
    noisy = build_model(preset("hali", "28px", width=0.25, hidden_dim=32, classes=3,
                               hidden_noise=0.5))
    with torch.no_grad():  # the same weights: the noise layers hold none
        for a, b in zip(plain.parameters(), noisy.parameters(), strict=True):
            b.copy_(a)
    d, dn = plain.discriminator.eval(), noisy.discriminator.eval()
    assert torch.allclose(dn.class_logits(x, z), d.class_logits(x, z))
    d.train(), dn.train()
    torch.manual_seed(1)
    with_noise = dn.class_logits(x, z)
    torch.manual_seed(1)
    without = d.class_logits(x, z)
    assert not torch.allclose(with_noise, without)
    torch.manual_seed(1)
    assert torch.allclose(dn.class_logits(x, z), with_noise)  # seeded: reproducible
    def count(kind):
        return sum(isinstance(m, kind) for m in dn.modules())

    assert count(GaussianNoise) == count(torch.nn.LeakyReLU) > 0  # after every hidden layer
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="--hidden-noise .*give a finite number >= 0"):
            preset("ali", "28px", hidden_noise=bad)


def test_shipped_own_protocols_share_their_siblings_draws():
    for own, sibling in [("mnist-semisup-own", "mnist-semisup"),
                         ("cifar10-semisup-subset-own", "cifar10-semisup-subset"),
                         ("svhn-semisup-own", "svhn-semisup"),
                         ("cifar10-semisup-own", "cifar10-semisup")]:
        a, b = load_protocol(own), load_protocol(sibling)
        assert (a.dataset, a.seed, a.splits) == (b.dataset, b.seed, b.splits)
        assert set(a.labels_per_class) <= set(b.labels_per_class) and a.task == "own-classifier"


def test_feature_matching_is_the_distance_of_mean_penultimate_features():
    from contextlib import nullcontext

    from halibench.training.trainer import generator_loss

    torch.manual_seed(0)
    model = build_model(preset("hali", "28px", width=0.25, hidden_dim=32, classes=3)).eval()
    x = torch.rand(8, 1, 28, 28)
    z = model.encode(x)
    feats = model.discriminator.penultimate(x, z)
    assert feats.shape[0] == 8 and model.discriminator.heads[0][-1].in_features == feats.shape[1]
    expected = (feats[:4].mean(0) - feats[4:].mean(0)).pow(2).mean()
    loss = generator_loss(model.discriminator, x, z, 4, "feature-matching", nullcontext())
    assert torch.allclose(loss, expected)
    with pytest.raises(ValueError, match="--generator-loss 'minimax': give one of"):
        TrainConfig(generator_loss="minimax")


def test_a_shipped_semi_supervised_checkpoint_is_scored_by_own_protocols_only(
        tiny_mnist_root, tmp_path, monkeypatch):
    import json

    import pandas as pd
    from click.testing import CliRunner

    from halibench.cli import cli
    from halibench.evaluation.benchmark import shipped_family, shipped_for
    from halibench.evaluation.regress import regress
    from halibench.models.export import export_run

    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(tmp_path / "checkpoints"))
    trainer, _ = tiny_semisup(tiny_mnist_root, tmp_path)
    trainer.fit()
    export_run(tmp_path / "run", "tiny-semi", "mnist")
    entry = json.loads((tmp_path / "checkpoints" / "index.json").read_text())[
        "checkpoints"]["tiny-semi"]
    assert entry["trained_labels"] == {"labels_per_class": 2, "draw": 0, "unlabelled":
                                       "adversarial", "protocol": "tiny-own"}
    assert "encoder_sha256" not in entry  # no packaged encoder: its classifier needs all of it
    assert "tiny-semi" not in shipped_for(load_protocol("mnist-semisup"))
    assert shipped_for(load_protocol(str(own_protocol(tmp_path)))) == ["tiny-semi"]
    assert "tiny-semi" not in shipped_for(load_protocol("mnist-semisup-own"))  # another draw
    assert shipped_family("hali", "mnist") == "hali-mnist"  # the family means the unsupervised one
    own = str(own_protocol(tmp_path))
    results = tmp_path / "results"
    out = CliRunner().invoke(cli, ["run", own, "--data-root", str(tiny_mnist_root),
                                   "--results", str(results), "--json"])
    assert out.exit_code == 0, out.output
    (record,) = json.loads(out.stdout)
    assert (record["model"], record["level"], record["probe"]) == ("tiny-semi", "classifier",
                                                                   "own")
    expected = pd.DataFrame([{"benchmark": own, "model": "tiny-semi", "level": "classifier",
                              "probe": "own", "labels_per_class": "2", "draws": 1,
                              "expected": record["mean"], "tolerance": 0.01,
                              "published_model": "", "beats_published": False}])
    (row,) = regress(expected, tiny_mnist_root).to_dict("records")
    assert row["ok"] and row["measured"] == pytest.approx(record["mean"])


def test_an_averaged_run_scores_its_average_with_the_raw_classifier_beside(tiny_mnist_root,
                                                                          tmp_path):
    import csv

    from halibench.evaluation.own_classifier import error_percent
    from halibench.features.extract import extract_features

    trainer, _ = tiny_semisup(tiny_mnist_root, tmp_path, weight_average=0.9, steps=4,
                              checkpoint_every=4, validate_every=4, lr=3e-3)
    final = trainer.fit()
    with open(tmp_path / "run" / "validation.csv", newline="") as f:
        logged = list(csv.DictReader(f))[-1]
    assert logged["score"] == logged["classifier"]
    rows = trainer.stopper.scorer.data.split("test")  # the validation protocol's scored rows

    def logits(model):
        return extract_features(model, rows.images, ["classifier"])["classifier"]

    def error(model):
        return error_percent(logits(model), np.asarray(rows.labels))

    saved, _ = load_checkpoint(final)
    assert not np.allclose(logits(saved), logits(trainer.model))
    assert float(logged["classifier"]) == pytest.approx(error(saved), abs=1e-3)
    assert float(logged["classifier_raw"]) == pytest.approx(error(trainer.model), abs=1e-3)
    study = study_script()
    row = study.study_row(tmp_path / "run")
    assert row["weight_average"] == 0.9
    assert row["raw_curve"] == [(4, float(logged["classifier_raw"]))]
    assert row["curve"] == [(4, float(logged["classifier"]))]
    log = tmp_path / "run" / "validation.csv"  # a damaged raw score: refused, not curved
    text = log.read_text()
    log.write_text(text.replace(logged["classifier_raw"], "nan"))
    with pytest.raises(SystemExit, match=r"validation\.csv, line 2: no step and finite score "
                       r"and classifier_raw \('4', '.+', 'nan'\)"):
        study.study_row(tmp_path / "run")


def study_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "semisup" / "study.py"
    spec = importlib.util.spec_from_file_location("semisup_study", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unsupervised_averaged_runs_raw_curve_is_the_better_of_its_raw_levels():
    study = study_script()
    rows = [{"step": "500", "z1": "9.0", "z1_raw": "10.5", "concat_raw": "9.5", "score": "9.0"},
            {"step": "1000", "z1": "8.0", "z1_raw": "7.5", "concat_raw": "8.5", "score": "8.0"}]
    assert study.raw_curve(rows, lambda: True) == [(500, 9.5), (1000, 7.5)]
    assert study.raw_curve(rows, lambda: False) == [(500, 10.5), (1000, 8.5)]
    assert study.raw_curve([{"step": "500", "z1": "9.0", "score": "9.0"}], bool) is None
