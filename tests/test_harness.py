"""Protocols, draws, selection honesty, records, leaderboard, and the CLI commands."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import tiny_benchmarks

from halibench.cli import cli
from halibench.data.cache import UNOFFICIAL
from halibench.evaluation.classification import Features, evaluate
from halibench.evaluation.protocols import balanced_draws, load_protocol
from halibench.report.record_schema import record_file_name
from halibench.report.results import official_protocols, write_leaderboard

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "halibench" / "shipped" / "benchmarks"


def test_shipped_protocols_load_with_versions():
    p = load_protocol("mnist-semisup")
    assert p.version == "1.2" and p.labels_per_class == (10, 100)
    assert p.splits["validation"].start == 50000 and p.n_draws(True) == 100
    c = p.c_grid("l2svm")
    assert len(c) == 50 and np.isclose(np.log(c[0]), -20) and np.isclose(np.log(c[-1]), 20)
    svhn = load_protocol("svhn-semisup")
    assert (svhn.splits["pool"].stop, svhn.splits["validation"].stop) == (63257, 73257)


def test_unknown_benchmark_lists_valid_names():
    from halibench.errors import HalibenchError

    with pytest.raises(HalibenchError, match="valid benchmarks: .*mnist-semisup"):
        load_protocol("nope")


def test_draws_are_class_balanced_and_identical_for_a_seed():
    labels = np.repeat(np.arange(10), 40)
    a = balanced_draws(labels, 5, 4, seed=7)
    b = balanced_draws(labels, 5, 4, seed=7)
    assert a.shape == (4, 50) and (a == b).all()
    for draw in a:
        assert np.bincount(labels[draw], minlength=10).tolist() == [5] * 10
        assert len(set(draw.tolist())) == 50
    assert not (a[0] == a[1]).all()
    assert not (balanced_draws(labels, 5, 4, seed=8) == a).all()


def toy_features(seed=0, dims=6):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3 / np.sqrt(dims / 6), size=(3, dims))

    def make(n):
        y = np.arange(n) % 3
        return (centers[y] + rng.normal(size=(n, dims))).astype(np.float32), y
    pool, pool_y = make(300)
    val, val_y = make(90)
    test, test_y = make(90)
    return Features(pool, pool_y, val, val_y, test), test_y


@pytest.mark.parametrize("probe", ["l2svm", "linear", "knn"])
def test_no_test_label_influences_model_selection(probe):
    protocol = load_protocol("mnist-semisup")
    feats, test_y = toy_features()
    honest = evaluate(protocol, feats, test_y, probe, 5, 3)
    scrambled_labels = np.random.default_rng(1).permutation(test_y)
    scrambled = evaluate(protocol, feats, scrambled_labels, probe, 5, 3)
    for a, b in zip(honest["draws"], scrambled["draws"], strict=True):
        assert a["selected"] == b["selected"]
        assert a["validation_error"] == b["validation_error"]
    assert honest["mean"] != scrambled["mean"]


def test_fast_and_reference_l2svm_agree_on_toy_protocol():
    protocol = load_protocol("mnist-semisup")
    feats, test_y = toy_features(seed=3, dims=40)
    fast = evaluate(protocol, feats, test_y, "l2svm", 5, 4, backend="torch")
    ref = evaluate(protocol, feats, test_y, "l2svm", 5, 4, backend="sklearn")
    assert fast["backend"] == "torch" and ref["backend"] == "sklearn"
    assert abs(fast["mean"] - ref["mean"]) <= 0.3 + 1e-9


def write_fake_record(results: Path, model: str, mean: float, created: str,
                      version: str = "1.1", probe: str = "l2svm", **changes) -> None:
    """A valid record of an official mnist-semisup version, three draws of std 0.5."""
    record = {"schema": "halibench-result/1", "run_id": f"{model}{created[:10]}",
              "created": f"{created}.000000Z", "benchmark": "mnist-semisup",
              "protocol_version": version,
              "protocol_sha256": official_protocols()["mnist-semisup"][version], "model": model,
              "level": "z1", "probe": probe, "labels": 100, "full": False,
              "metric": "error", "mean": mean, "std": 0.5,
              "draws": [{"test": mean + d} for d in (-0.5, 0.0, 0.5)],
              "checkpoint_sha256": "ab" * 32, "representation": "mean", "backend": "torch",
              **changes}
    (results / "runs").mkdir(parents=True, exist_ok=True)
    (results / "runs" / record_file_name(record)).write_text(json.dumps(record))


def test_a_row_with_a_newer_protocol_version_marks_the_older_one(tmp_path):
    write_fake_record(tmp_path, "m1", 12.0, "2026-01-01T00:00:00", "1.1", "linear")
    write_fake_record(tmp_path, "m1", 11.0, "2026-01-02T00:00:00", "1.2", "linear")
    write_fake_record(tmp_path, "m2", 11.0, "2026-01-01T00:00:00", "1.1", "linear")
    write_fake_record(tmp_path, "m2", 13.0, "2026-01-01T00:00:00", "1.1", "l2svm")
    text = write_leaderboard(tmp_path)[0].read_text()
    assert "| 1 | m1 | z1 | error | 11.00 ± 0.50 | 3 (quick look) |" in text  # current first
    assert "| 2 | m2 (earlier protocol) | z1 | error | 11.00 ± 0.50 |" in text
    assert "| 3 | m1 (earlier protocol) | z1 | error | 12.00 ± 0.50 |" in text
    assert "| 1 | m2 | z1 | error | 13.00 ± 0.50 |" in text  # no 1.2 row of that probe


def test_leaderboard_regenerates_byte_identically_and_keeps_newest(tmp_path):
    write_fake_record(tmp_path, "m1", 10.0, "2026-01-01T00:00:00")
    write_fake_record(tmp_path, "m1", 9.0, "2026-01-02T00:00:00")
    write_fake_record(tmp_path, "m2", 8.0, "2026-01-01T00:00:00")
    md, csv = write_leaderboard(tmp_path)
    first = md.read_bytes(), csv.read_bytes()
    md.unlink()
    csv.unlink()
    write_leaderboard(tmp_path)
    assert (md.read_bytes(), csv.read_bytes()) == first
    text = md.read_text()
    assert "### 100 labels, l2svm (lower is better)" in text
    assert "| 1 | m2 | z1 | error | 8.00 ± 0.50 | 3 (quick look) |" in text
    assert "| 2 | m1 | z1 | error | 9.00 ± 0.50 | 3 (quick look) |" in text
    assert "10.00" not in text
    assert f"from `{tmp_path.name}/runs/*.json`" in text  # the folder, not the path typed
    assert "not available" in text and "19.14" in text


def test_a_record_of_another_metric_or_data_never_ranks_with_the_official_rows(tmp_path):
    """An edited record claiming "accuracy" must not flip the order of an error table, and
    a record made on data that is not the official files says so."""
    write_fake_record(tmp_path, "m1", 10.0, "2026-01-01T00:00:00")
    write_fake_record(tmp_path, "m2", 8.0, "2026-01-01T00:00:00")
    write_fake_record(tmp_path, "m3", 95.0, "2026-01-01T00:00:00", metric="accuracy")
    write_fake_record(tmp_path, "m2", 1.0, "2026-01-02T00:00:00",  # newer, on other data
                      data={"test": f"mnist:test:0123456789abcdef{UNOFFICIAL}"})
    text = write_leaderboard(tmp_path)[0].read_text()
    official = text.index("### 100 labels, l2svm, error (lower is better)")
    assert "| 1 | m2 | z1 | error | 8.00" in text and "| 2 | m1 | z1 | error |" in text
    other_data = text.index("### 100 labels, l2svm, error, not the official data (lower is")
    assert "| 1 | m2 (not the official data: a copy whose checksum differs" in text
    other_metric = text.index("### 100 labels, l2svm, accuracy (higher is better)")
    assert "| 1 | m3 (not the official metric: accuracy, not error) |" in text
    assert official < other_data and official < other_metric


def test_cli_run_and_compare_on_tiny_mnist(tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    results = tmp_path / "results"
    common = ["--data-root", str(tiny_mnist_root), "--results", str(results), "--draws", "2"]
    runner = CliRunner()
    out = runner.invoke(cli, ["run", "mnist-semisup", "--model", "raw-pixels", "--probe",
                              "l2svm", *common])
    assert out.exit_code == 0, out.output
    assert "| raw-pixels (not the official protocol: sha256 " in out.output
    assert "| pixels | l2svm | 20 |" in out.output
    assert len(list((results / "runs").glob("*.json"))) == 1
    assert (results / "leaderboard.md").is_file()
    cmp = runner.invoke(cli, ["compare", "raw-pixels", "untrained-ali", "--probe", "knn",
                              *common])
    assert cmp.exit_code == 0, cmp.output
    assert "paired p" in cmp.output and Path(cmp.output.split("chart: ")[1].strip()).is_file()
    as_json = runner.invoke(cli, ["compare", "raw-pixels", "untrained-ali", "--probe", "knn",
                                  "--format", "svg", *common, "--json"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert [r["model"] for r in rows] == ["raw-pixels", "untrained-ali"]
    assert rows[1]["vs"] == "raw-pixels:pixels" and "p_value" in rows[1]
    assert "scores" not in rows[0] and rows[0]["benchmark"] == "mnist-semisup"
    assert len(list((results / "figures").glob(
        "compare-mnist-semisup-v*-raw-pixels+untrained-ali-pixels+z1-knn-*.svg"))) == 1
    as_csv = runner.invoke(cli, ["compare", "raw-pixels", "untrained-ali", "--probe", "knn",
                                 *common, "--csv"])
    assert as_csv.stdout.splitlines()[0].startswith("labels,probe,model,level,metric,mean")
    both = runner.invoke(cli, ["compare", "raw-pixels", "--json", "--csv", *common])
    assert both.exit_code == 2 and "choose one" in both.output
    tiny = load_protocol("mnist-semisup")  # as if the tiny file were the official one
    monkeypatch.setattr("halibench.report.results.official_protocols",
                        lambda: {"mnist-semisup": {tiny.version: tiny.sha256}})
    unlisted = runner.invoke(cli, ["run", "mnist-semisup", "--model", "raw-pixels", "--probe",
                                   "knn", "--labels-per-class", "3", *common])
    assert unlisted.exit_code == 0, unlisted.output
    assert "(not an official setting: 3 labels per class)" in (
        results / "leaderboard.md").read_text()
    bad = runner.invoke(cli, ["run", "mnist-semisup", "--model", "raw-pixels",
                              "--labels-per-class", "three", *common])
    assert bad.exit_code == 2 and "give a positive count or 'all'" in bad.output
    bad = runner.invoke(cli, ["run", "mnist-semisup", "--model", "nope", *common])
    assert bad.exit_code == 2 and "unknown model 'nope'" in bad.output
    bad = runner.invoke(cli, ["run", "mnist-semisup", "--model", "raw-pixels", "--probe",
                              "svm", *common])
    assert bad.exit_code == 2 and "valid probes" in bad.output
    bad = runner.invoke(cli, ["run", "mnist-semisup", "--model", "untrained-ali", "--level",
                              "z7", *common])
    assert bad.exit_code == 2 and "valid levels" in bad.output


def test_cli_regress_exit_codes(tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[10]")
    runner = CliRunner()
    header = "benchmark,model,level,probe,labels_per_class,draws,expected,tolerance\n"
    probe = CliRunner().invoke(cli, ["run", "mnist-semisup", "--model", "raw-pixels",
                                     "--probe", "knn", "--draws", "2", "--json",
                                     "--data-root", str(tiny_mnist_root),
                                     "--results", str(tmp_path / "r")])
    measured = json.loads(probe.stdout)[0]["mean"]
    good = tmp_path / "good.csv"
    good.write_text(header + f"mnist-semisup,raw-pixels,pixels,knn,10,2,{measured},0.5\n")
    ok = runner.invoke(cli, ["regress", "--expected", str(good), "--data-root",
                             str(tiny_mnist_root)])
    assert ok.exit_code == 0, ok.output
    assert "all 1 rows run within tolerance; every claim holds\n" in ok.output
    drift = tmp_path / "drift.csv"
    drift.write_text(header + f"mnist-semisup,raw-pixels,pixels,knn,10,2,{measured + 5},0.5\n")
    bad = runner.invoke(cli, ["regress", "--expected", str(drift), "--data-root",
                              str(tiny_mnist_root)])
    assert bad.exit_code == 1 and "DRIFT" in bad.output
    blank = tmp_path / "blank.csv"
    blank.write_text(header + f"mnist-semisup,raw-pixels,pixels,knn,10,,{measured},0.5\n")
    refused = runner.invoke(cli, ["regress", "--expected", str(blank), "--data-root",
                                  str(tiny_mnist_root)])
    assert refused.exit_code == 2 and refused.output.count("\n") == 1
    assert "row 2: draws '' is not a finite number" in refused.output

    # a row that claims to beat a published number fails when it no longer does
    published = tmp_path / "benchmarks" / "published.csv"
    published.write_text(published.read_text()
                         + "mnist-semisup,Paper A,Easy,100,knn,error,99.9,,,x\n"
                         + "mnist-semisup,Paper B,Hard,100,knn,error,0,,,x\n")
    claims = tmp_path / "claims.csv"
    row = f"mnist-semisup,raw-pixels,pixels,knn,10,2,{measured},0.5"
    claims.write_text(header.strip() + ",published_model,beats_published\n"
                      + f"{row},Easy,true\n{row},Hard,false\n")
    held = runner.invoke(cli, ["regress", "--expected", str(claims), "--data-root",
                               str(tiny_mnist_root)])
    assert held.exit_code == 0, held.output
    assert "99.9 (Easy, Paper A)" in held.output and "every claim holds" in held.output
    claims.write_text(header.strip() + ",published_model,beats_published\n"
                      + f"{row},Hard,true\n")
    lost = runner.invoke(cli, ["regress", "--expected", str(claims), "--data-root",
                               str(tiny_mnist_root)])
    assert lost.exit_code == 1 and "LOST CLAIM" in lost.output, lost.output


def test_regress_skips_a_row_whose_dataset_is_absent_and_strict_fails_it(tiny_mnist_root,
                                                                          tmp_path):
    """A machine with MNIST only: the CelebA row is skipped, saying why; --strict (CI) fails
    on it; a CelebA folder that is there but empty is an error, not a skip."""
    rows = tmp_path / "expected.csv"
    rows.write_text("benchmark,model,level,probe,labels_per_class,draws,expected,tolerance\n"
                    "celeba-attributes-subset,hog,hog,l2svm,all,1,68.73,0.5\n")
    args = ["regress", "--expected", str(rows), "--data-root", str(tiny_mnist_root)]
    skipped = CliRunner().invoke(cli, args)
    assert skipped.exit_code == 0, skipped.output
    assert f"skipped: no celeba data at {tiny_mnist_root / 'celeba'}" in skipped.output
    assert "no row ran; 1 skipped" in skipped.output
    strict = CliRunner().invoke(cli, [*args, "--strict"])
    assert strict.exit_code == 1 and "--strict: 1 of 1 rows skipped" in strict.output
    (tiny_mnist_root / "celeba").mkdir()
    broken = CliRunner().invoke(cli, args)
    assert broken.exit_code == 2 and broken.output.count("\n") == 1, broken.output
    assert "row 2:" in broken.output and "celeba" in broken.output
    (tiny_mnist_root / "celeba").rmdir()


@pytest.mark.parametrize("row, message", [
    ("celeba-attributes-subset,hog,hog,bogusprobe,all,1,68.73,0.5", "unknown probe"),
    ("celeba-attributes-subset,no-such-model,z1,l2svm,all,1,68.73,0.5", "unknown model"),
    ("cifar10-semisup,hali-mnist,z1,l2svm,10,1,10,0.5", "takes images of shape"),
    ("celeba-attributes-subset,hog,hog,l2svm,all,1,68.73,0.5,Nobody,true",
     "published_model 'Nobody' names no row"),
])
def test_regress_checks_a_row_whose_dataset_is_absent_before_skipping_it(
        tiny_mnist_root, tmp_path, row, message):
    """An absent dataset does not hide a malformed row: what needs no images is checked."""
    rows = tmp_path / "expected.csv"
    extra = ",published_model,beats_published" if row.count(",") == 9 else ""
    rows.write_text("benchmark,model,level,probe,labels_per_class,draws,expected,tolerance"
                    f"{extra}\n{row}\n")
    out = CliRunner().invoke(cli, ["regress", "--expected", str(rows), "--data-root",
                                   str(tiny_mnist_root)])
    assert out.exit_code == 2 and out.output.count("\n") == 1, out.output
    assert "row 2:" in out.output and message in out.output


@pytest.mark.parametrize("content", ["", "benchmark,model,level,probe,labels_per_class,draws,"
                                         "expected,tolerance\n", "a,b\n,\n"])
def test_regress_refuses_an_expected_file_without_rows_and_a_missing_data_root(
        tiny_mnist_root, tmp_path, content):
    rows = tmp_path / "expected.csv"
    rows.write_text(content)
    out = CliRunner().invoke(cli, ["regress", "--expected", str(rows)])
    assert out.exit_code == 2 and "no rows to reproduce" in out.output, out.output
    rows.write_text("benchmark,model,level,probe,labels_per_class,draws,expected,tolerance\n"
                    "mnist-semisup,raw-pixels,pixels,knn,10,1,20,0.5\n")
    out = CliRunner().invoke(cli, ["regress", "--expected", str(rows), "--data-root",
                                   str(tmp_path / "typo")])
    assert out.exit_code == 2 and f"data root {tmp_path / 'typo'}: no such folder" in out.output


@pytest.fixture
def tiny_celeba_subset(tmp_path, monkeypatch) -> Path:
    """40 fake CelebA images and the subset protocol scaled to them (20 / 10 / 10)."""
    from data_fixtures import write_celeba

    write_celeba(tmp_path / "data" / "celeba", n=40)
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    text = (SHIPPED / "celeba-attributes-subset.toml").read_text()
    text = text.replace("stop = 3000", "stop = 20").replace("start = 3000, stop = 3600",
                                                            "start = 20, stop = 30")
    text = text.replace("start = 3600, stop = 4283", "start = 30, stop = 40")
    text = text.replace("min_positives = 10", "min_positives = 3")
    (bench / "celeba-attributes-subset.toml").write_text(text)
    shutil.copy(SHIPPED / "published.csv", bench)
    monkeypatch.setenv("HALIBENCH_BENCHMARKS", str(bench))
    return tmp_path / "data"


def test_cli_attribute_run_marks_the_subset_and_draws_the_chart(tiny_celeba_subset, tmp_path):
    results = tmp_path / "results"
    out = CliRunner().invoke(cli, ["run", "celeba-attributes-subset", "--model", "hog",
                                   "--model", "untrained-ali", "--probe", "l2svm",
                                   "--data-root", str(tiny_celeba_subset),
                                   "--results", str(results)])
    assert out.exit_code == 0, out.output
    assert "SUBSET, not comparable" in out.output and "| hog | hog | l2svm |" in out.output
    assert (results / "figures" / "celeba-attributes-subset-attributes.png").stat().st_size
    board = (results / "leaderboard.md").read_text()
    assert "| hog [subset] (not the official protocol: sha256 " in board  # a test protocol
    header = (results / "leaderboard.csv").read_text().splitlines()[0]
    assert "bal_acc:5_o_Clock_Shadow" in header or "bal_acc:Arched_Eyebrows" in header
    chart = results / "figures" / "celeba-attributes-subset-attributes.png"
    chart.unlink()
    again = CliRunner().invoke(cli, ["leaderboard", "--results", str(results)])
    assert again.exit_code == 0 and chart.stat().st_size


def test_attribute_protocol_on_celeba_fixture(tiny_celeba_subset):
    from halibench.evaluation import benchmark

    protocol = load_protocol("celeba-attributes-subset")
    (rec,) = benchmark.run(protocol, ["pca"], None, ["linear"], root=tiny_celeba_subset)
    assert rec["metric"] == "balanced_accuracy" and "not comparable" in rec["subset"]
    assert len(rec["attributes"]) == 40
    evaluated = [a for a in rec["attributes"] if a["status"] == "ok"]
    assert rec["attributes_evaluated"] == len(evaluated)
    assert len(evaluated) + len(rec["attributes_excluded"]) == 40
    assert np.isclose(rec["mean"], np.mean([a["balanced_accuracy"] for a in evaluated]))
    for a in rec["attributes"]:
        if a["status"] != "ok":
            assert a["scarcest_class"] < 3 and "balanced_accuracy" not in a


def test_celeba_attributes_without_images_is_one_line_exit_2(tmp_path):
    from data_fixtures import write_celeba

    write_celeba(tmp_path / "celeba", n=12, images=4)
    result = CliRunner().invoke(cli, ["run", "celeba-attributes", "--model", "raw-pixels",
                                      "--data-root", str(tmp_path),
                                      "--results", str(tmp_path / "results")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "2 of the 6 images of split 'train' are missing (first: 000005.jpg)" in result.output
    assert not (tmp_path / "results" / "runs").exists()


def test_semantics_measures_class_consistency_per_level(tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    results = tmp_path / "results"
    out = CliRunner().invoke(cli, ["semantics", "untrained-hali", "--data-root",
                                   str(tiny_mnist_root), "--results", str(results)])
    assert out.exit_code == 0, out.output
    (path,) = (results / "semantics").glob("*.json")
    shares = json.loads(path.read_text())["class_consistency"]
    assert shares["originals"] > 80  # the tiny digits are easy for the pixel classifier
    assert 0 <= shares["z1"] <= 100 and 0 <= shares["z2"] <= 100 and shares["images"] == 100
    bad = CliRunner().invoke(cli, ["semantics", "hog", "--data-root", str(tiny_mnist_root),
                                   "--results", str(results)])
    assert bad.exit_code == 2 and "no decoder" in bad.output


def _record(model: str, draws: list[float], attributes: dict[str, float] | None = None) -> dict:
    return {"labels": 10, "probe": "l2svm", "model": model, "level": "z1",
            "metric": "balanced_accuracy", "mean": float(np.mean(draws)), "std": 0.0,
            "draws": [{"draw": i, "test": v} for i, v in enumerate(draws)],
            "attributes": [{"attribute": k, "status": "ok", "balanced_accuracy": v}
                           for k, v in (attributes or {}).items()]}


def test_compare_pairs_over_draws_or_over_attributes():
    from scipy import stats

    from halibench.report.compare import comparison_table, format_table

    by_draws = comparison_table([_record("a", [10.0, 12.0, 11.0]),
                                 _record("b", [11.0, 12.5, 13.0])])
    row = by_draws.iloc[1]
    assert row.paired_over == "draws" and row.n_paired == 3
    assert row.p_value == pytest.approx(stats.ttest_rel([11, 12.5, 13], [10, 12, 11]).pvalue)
    # One draw each: the 40-attribute benchmark pairs attribute by attribute, by name.
    a = {"Smiling": 80.0, "Male": 90.0, "Bald": 55.0, "Young": 70.0}
    b = {"Young": 71.0, "Bald": 60.0, "Male": 91.5, "Smiling": 80.5}
    by_attr = comparison_table([_record("a", [73.75], a), _record("b", [75.75], b)])
    row = by_attr.iloc[1]
    keys = sorted(a)
    expected = stats.ttest_rel([b[k] for k in keys], [a[k] for k in keys]).pvalue
    assert row.paired_over == "attributes" and row.n_paired == 4
    assert row.p_value == pytest.approx(expected) and row.delta == pytest.approx(2.0)
    assert "(4 attributes)" in format_table(by_attr)


def test_compare_of_one_model_pairs_its_levels_with_its_first_level():
    from scipy import stats

    from halibench.report.compare import comparison_table

    z1, concat = _record("m", [10.0, 12.0, 11.0]), _record("m", [9.0, 11.5, 10.0])
    concat["level"] = "concat"
    table = comparison_table([z1, concat])
    assert table.iloc[0].n_paired == 0 and table.iloc[1].vs == "m:z1"
    assert table.iloc[1].delta == pytest.approx(-5 / 6)
    assert table.iloc[1].p_value == pytest.approx(
        stats.ttest_rel([9, 11.5, 10], [10, 12, 11]).pvalue)


def test_a_choice_at_the_end_of_the_grid_is_recorded_and_warned(tiny_mnist_root, tmp_path,
                                                                monkeypatch, caplog):
    """Features of tiny scale: every C of the grid fits nothing, the tie rule takes the
    smallest, an end of the grid; every draw says so, one line warns."""
    import halibench
    from halibench.evaluation.classification import grid_edge

    assert [grid_edge(i, 5) for i in range(5)] == ["lowest", None, None, None, "highest"]
    assert grid_edge(0, 1) is None
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")

    def tiny_scale(x):
        return x.flatten(1) * 1e-7

    with caplog.at_level("WARNING", logger="halibench"):
        records = halibench.evaluate(tiny_scale, "mnist-semisup", probes=["linear", "knn"],
                                     draws=2, results_dir=None, data_root=tiny_mnist_root)
    linear = next(r for r in records if r["probe"] == "linear")
    assert [d["grid_edge"] for d in linear["draws"]] == ["lowest", "lowest"]
    assert linear["grid_edges"] == {"at_edge": 2, "of": 2, "grid_size": 16}
    knn = next(r for r in records if r["probe"] == "knn")
    assert knn["grid_edges"]["at_edge"] == 0
    lines = [r.getMessage() for r in caplog.records if "end of its grid" in r.getMessage()]
    assert len(lines) == 1 and "linear 2/class (2 of 2)" in lines[0]
    assert "knn" not in lines[0]
