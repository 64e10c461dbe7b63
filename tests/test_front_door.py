"""A researcher's own encoder through the same protocols, records and leaderboard as ours."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_benchmarks
from test_harness import REPO

import halibench
from halibench.cli import cli
from halibench.errors import HalibenchError
from halibench.features.cache import feature_path
from halibench.features.identity import object_identity
from halibench.features.user import UserSource, user_sources

ENCODER_MODULE = """
import torch

torch.manual_seed(0)
encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU())


def two_levels(x):
    flat = x.flatten(1)
    return {"mean": flat.mean(1, keepdim=True), "pixels": flat}
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "myencoders.py").write_text(textwrap.dedent(ENCODER_MODULE))
    monkeypatch.syspath_prepend(str(folder))
    yield "myencoders"
    sys.modules.pop("myencoders", None)


def test_python_and_cli_evaluate_a_users_module_into_one_leaderboard(
        user_module, tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    results = tmp_path / "results"
    encoder = __import__(user_module).encoder
    records = halibench.evaluate(encoder, "mnist-semisup", probes=["l2svm"], draws=2,
                                 name="my-mlp", data_root=tiny_mnist_root,
                                 results_dir=results)
    assert [r["level"] for r in records] == ["features"]
    assert records[0]["checkpoint_sha256"] == object_identity(encoder)
    assert records.frame().loc[0, "model"] == "my-mlp"
    out = CliRunner().invoke(cli, ["run", "mnist-semisup", "--model", f"{user_module}:encoder",
                                   "--probe", "l2svm", "--draws", "2", "--data-root",
                                   str(tiny_mnist_root), "--results", str(results)])
    assert out.exit_code == 0, out.output
    board = (results / "leaderboard.md").read_text()
    unofficial = "(not the official protocol: sha256 "  # tiny_benchmarks shrinks the protocol
    # The same weights scored to the same value under two names: one row, both names.
    assert f"| my-mlp {unofficial}" in board
    assert f"(also scored as {user_module}:encoder) |" in board
    cli_record = next(json.loads(p.read_text()) for p in (results / "runs").glob("*.json")
                      if "myencoders" in p.name)
    assert cli_record["mean"] == pytest.approx(records[0]["mean"])


def test_named_levels_of_a_callable_and_level_checks(user_module):
    fn = __import__(user_module).two_levels
    sources = user_sources(fn, "fn", None, (1, 28, 28))
    assert [s.level for s in sources] == ["mean", "pixels"]
    assert not sources[0].cacheable  # a callable without weights has no version
    with pytest.raises(HalibenchError,
                       match=r"fn: unknown level\(s\) \['z1'\]; valid levels: \['mean', "):
        user_sources(fn, "fn", ["z1"], (1, 28, 28))


def test_changing_a_modules_weights_changes_its_cache_key(user_module):
    encoder = __import__(user_module).encoder
    (before,) = user_sources(encoder, "m", None, (1, 28, 28))
    with torch.no_grad():
        encoder[1].weight[0, 0] += 1.0
    (after,) = user_sources(encoder, "m", None, (1, 28, 28))
    assert before.cacheable and after.cacheable
    assert before.checkpoint_sha256 != after.checkpoint_sha256
    assert feature_path(before, "d") != feature_path(after, "d")


HELPER_USING_ENCODER = """
import torch
from scale_helpers import scale


class Scaled(torch.nn.Module):
    def forward(self, x):
        return scale(x.flatten(1).float())


encoder = Scaled()
"""


def test_a_change_in_a_helper_file_or_a_global_changes_the_cache_key(tmp_path, monkeypatch):
    """The encoder's class lives in one file, the code it calls in another: editing the
    other file, or a constant there, must not leave the old features in the cache."""
    import importlib

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "scaled_encoder.py").write_text(HELPER_USING_ENCODER)
    keys = []
    for helper in ("FACTOR = 2.0\ndef scale(x):\n    return x * FACTOR\n",
                   "FACTOR = 2.0\ndef scale(x):\n    return x * FACTOR + 1\n",
                   "FACTOR = 3.0\ndef scale(x):\n    return x * FACTOR + 1\n"):
        (tmp_path / "scale_helpers.py").write_text(helper)
        for name in ("scale_helpers", "scaled_encoder"):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        keys.append(object_identity(importlib.import_module("scaled_encoder").encoder))
    module = sys.modules["scale_helpers"]
    module.FACTOR = 4.0  # changed at run time, after import
    keys.append(object_identity(sys.modules["scaled_encoder"].encoder))
    for name in ("scale_helpers", "scaled_encoder"):
        sys.modules.pop(name, None)
    assert None not in keys and len(set(keys)) == 4


REACHED_HELPER = {  # how the encoder reaches the helper: (its header, forward's body, helper)
    "object": ("from scale_helpers import PROJ", "return PROJ(x)",
               "class Proj:\n    def __call__(self, x):\n        return x * {k}\n\n\n"
               "PROJ = Proj()\n"),
    "partial": ("import functools\nfrom scale_helpers import scale\n"
                "SCALE = functools.partial(scale, k=1.0)", "return SCALE(x)",
                "def scale(x, k):\n    return x * k * {k}\n"),
    "import in forward": ("", "from scale_helpers import scale\n        return scale(x)",
                          "def scale(x):\n    return x * {k}\n"),
}


@pytest.mark.parametrize("how", sorted(REACHED_HELPER))
def test_helper_code_reached_through_an_object_a_partial_or_a_local_import_is_identified(
        tmp_path, monkeypatch, how):
    import importlib

    header, forward, helper = REACHED_HELPER[how]
    (tmp_path / "reaching_encoder.py").write_text(
        f"import torch\n{header}\n\n\nclass Scaled(torch.nn.Module):\n"
        f"    def forward(self, x):\n        {forward}\n\n\nencoder = Scaled()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    keys = []
    for k in ("2.0", "3.0"):
        (tmp_path / "scale_helpers.py").write_text(helper.format(k=k))
        for name in ("scale_helpers", "reaching_encoder"):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        encoder = importlib.import_module("reaching_encoder").encoder
        encoder(torch.ones(1))  # forward's own import has run, as in an evaluation
        keys.append(object_identity(encoder))
    for name in ("scale_helpers", "reaching_encoder"):
        sys.modules.pop(name, None)
    assert None not in keys and keys[0] != keys[1]


def test_identity_survives_odd_module_registrations_and_hashes_data_frames(tmp_path,
                                                                           monkeypatch):
    import importlib

    import pandas as pd

    class NotAModule:
        pass

    monkeypatch.setitem(sys.modules, "not_a_module", NotAModule())
    (tmp_path / "odd_encoder.py").write_text(
        "import pandas as pd\nimport torch\n\n\nclass Odd:\n    pass\n\n\n"
        "Odd.__module__ = 'not_a_module'\nODD = Odd()\nTABLE = pd.DataFrame({'w': [1.0, 2.0]})\n"
        "\n\nclass Net(torch.nn.Module):\n    def forward(self, x):\n"
        "        return x * float(TABLE['w'].sum())\n\n\nencoder = Net()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("odd_encoder", None)
    module = importlib.import_module("odd_encoder")
    before = object_identity(module.encoder)
    module.TABLE = pd.DataFrame({"w": [1.0, 5.0]})
    after = object_identity(module.encoder)
    sys.modules.pop("odd_encoder", None)
    assert before is not None and after is not None and before != after


STATE_OUTSIDE_THE_SOURCE = '''
import torch
from statepkg import util


class Enc(torch.nn.Module):
    scale = 2.0  # a class attribute

    def forward(self, x):
        return closed(bound(with_default(x))) * self.scale * util.FACTOR


def make_closure():
    t = torch.ones(1)
    return lambda x: x * t


class Holder:
    def __init__(self, k):
        self.k = k

    def apply(self, x):
        return x * self.k


def with_default(x, k=torch.ones(1)):
    return x * k


closed = make_closure()
bound = Holder(2.0).apply
encoder = Enc()
'''

CHANGES = {
    "class attribute": lambda m: setattr(m.Enc, "scale", 4.0),
    "closure cell": lambda m: m.closed.__closure__[0].cell_contents.mul_(3),
    "bound method's object": lambda m: setattr(m.bound.__self__, "k", 13.0),
    "default argument": lambda m: m.with_default.__defaults__[0].mul_(3),
    "constant in a package with an empty __init__": lambda m: setattr(m.util, "FACTOR", 5.0),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_state_outside_the_source_is_in_the_identity(tmp_path, monkeypatch, change):
    import importlib

    (tmp_path / "statepkg").mkdir()
    (tmp_path / "statepkg" / "__init__.py").write_text("")  # empty, as usual
    (tmp_path / "statepkg" / "util.py").write_text("FACTOR = 1.0\n")
    (tmp_path / "state_encoder.py").write_text(STATE_OUTSIDE_THE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("state_encoder", "statepkg", "statepkg.util"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("state_encoder")
    before = object_identity(module.encoder)
    CHANGES[change](module)
    after = object_identity(module.encoder)
    for name in ("state_encoder", "statepkg", "statepkg.util"):
        sys.modules.pop(name, None)
    assert before is not None and after is not None and before != after


def test_a_fitted_transformer_is_an_encoder():
    import numpy as np
    from sklearn.decomposition import PCA

    pca = PCA(5).fit(np.random.default_rng(0).random((50, 784)))
    (source,) = user_sources(pca, "pca5", None, (1, 28, 28))
    feats = source.transform(np.zeros((3, 1, 28, 28), dtype=np.uint8))
    assert feats.shape == (3, 5) and isinstance(source, UserSource) and source.cacheable


def test_bad_import_strings_are_one_line_errors(tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    for spec, fragment in (("nosuchmodule:enc", "no module 'nosuchmodule'"),
                           ("json:nosuch", "has no attribute 'nosuch'")):
        out = CliRunner().invoke(cli, ["run", "mnist-semisup", "--model", spec, "--data-root",
                                       str(tiny_mnist_root), "--results", str(tmp_path / "r")])
        assert out.exit_code == 2 and out.output.count("\n") == 1 and fragment in out.output


def test_compare_resolves_model_families_to_the_datasets_shipped_checkpoints(
        tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    bigan_folder = REPO / "checkpoints" / "bigan-mnist"  # a model given by its folder's path
    out = CliRunner().invoke(cli, ["compare", "hali", "ali", str(bigan_folder), "--probe", "knn",
                                   "--level", "z1", "--draws", "2", "--data-root",
                                   str(tiny_mnist_root), "--results", str(tmp_path / "results")])
    assert out.exit_code == 0, out.output
    assert "hali -> hali-mnist" in out.output and "ali -> ali-mnist" in out.output
    records = [json.loads(p.read_text()) for p in (tmp_path / "results" / "runs").glob("*")]
    assert sorted(r["model"] for r in records) == ["ali-mnist", "bigan-mnist", "hali-mnist"]
    chart = Path(out.output.split("chart: ")[1].split("\n")[0])
    assert chart.is_file() and chart.parent == tmp_path / "results" / "figures"
    # the name says every setting, so a quick look never overwrites another comparison
    assert chart.name.startswith("compare-mnist-semisup-v") and \
        "-hali-mnist+ali-mnist+bigan-mnist-z1-knn-2lpc-2draws-sha" in chart.name
    again = CliRunner().invoke(cli, ["compare", "hali", "ali", str(bigan_folder), "--probe",
                                     "knn", "--level", "z1", "--draws", "3", "--data-root",
                                     str(tiny_mnist_root), "--results", str(tmp_path / "results")])
    assert again.exit_code == 0, again.output
    other = Path(again.output.split("chart: ")[1].split("\n")[0])
    assert "-3draws-" in other.name and chart.is_file() and other.is_file()


def test_list_functions():
    assert "mnist-semisup" in halibench.list_benchmarks()
    models = halibench.list_models()
    assert "hali-mnist" in models["checkpoints"] and models["families"] == ["hali", "ali",
                                                                               "bigan"]


def test_extract_features_takes_whatever_evaluate_takes(tiny_mnist_root):
    """One resolver: a user's module, a scikit-learn pipeline, a baseline, a loaded model."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from halibench.models import build_model, preset

    images = (torch.rand(6, 1, 28, 28) * 255).to(torch.uint8)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 5)).train()
    feats = halibench.extract_features(module, images)
    assert list(feats) == ["features"] and feats["features"].shape == (6, 5)
    assert module.training  # left as it was
    floats = images.float() / 255
    assert halibench.extract_features(module, floats)["features"] == pytest.approx(
        feats["features"], abs=1e-5)

    pipeline = make_pipeline(StandardScaler(), PCA(3)).fit(floats.flatten(1).numpy())
    assert halibench.extract_features(pipeline, images, name="pca3")["features"].shape == (6, 3)

    pixels = halibench.extract_features("raw-pixels", floats)
    assert list(pixels) == ["pixels"] and pixels["pixels"].shape == (6, 784)
    assert pixels["pixels"] == pytest.approx(
        halibench.extract_features("raw-pixels", images)["pixels"])

    model = build_model(preset("hali", "28px", width=0.25))
    levels = halibench.extract_features(model, images)
    assert list(levels) == ["z1", "z2", "concat"]
    assert halibench.extract_features(model, images, ["hidden"])["hidden"].shape[0] == 6


@pytest.mark.parametrize("images, message", [
    (torch.zeros(3, 28, 28, dtype=torch.uint8), "shape (3, 28, 28)"),
    (torch.full((2, 1, 28, 28), 2.0), "floats must be finite and in [0, 1]"),
    (torch.zeros(2, 1, 28, 28, dtype=torch.int64), "dtype int64"),
])
def test_extract_features_names_bad_images(images, message):
    with pytest.raises(HalibenchError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("]", r"\]")):
        halibench.extract_features("raw-pixels", images)


def test_a_loaded_checkpoint_is_recorded_as_itself_until_it_changes(
        tiny_mnist_root, tmp_path, monkeypatch):
    """evaluate(halibench.load(folder)) records the checkpoint's name and sha256, as
    evaluate(folder) does; once its weights change it is the user's object again."""
    from halibench.models import build_model, preset
    from halibench.models.checkpoints import save_checkpoint

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    torch.manual_seed(0)
    folder = save_checkpoint(tmp_path / "my-run", build_model(preset("hali", "28px", width=0.25)),
                             {"step": 0})
    run = dict(probes="knn", levels="z1", draws=1, data_root=tiny_mnist_root, results_dir=None)
    (by_path,) = halibench.evaluate(str(folder), "mnist-semisup", **run)
    model = halibench.load(str(folder))
    (loaded,) = halibench.evaluate(model, "mnist-semisup", **run)
    assert (loaded["model"], loaded["checkpoint_sha256"]) == (
        by_path["model"], by_path["checkpoint_sha256"]) == ("my-run", by_path["checkpoint_sha256"])
    assert loaded["mean"] == by_path["mean"]
    with torch.no_grad():
        next(model.parameters()).mul_(2)
    (changed,) = halibench.evaluate(model, "mnist-semisup", **run)
    assert changed["model"] == "HierarchicalALI"
    assert changed["checkpoint_sha256"] == object_identity(model) != by_path["checkpoint_sha256"]
    for taken in ("hali", "HALI-MNIST", "hali-mnist@b3577a84", "hali-mnist:hidden", "Pca (64)",
                  "Raw_Pixels"):
        with pytest.raises(HalibenchError, match="give your encoder a name of its own"):
            halibench.evaluate(halibench.load(str(folder)), "mnist-semisup", name=taken, **run)
    with pytest.raises(HalibenchError, match="encoder name 123: a int; pass a text name"):
        halibench.evaluate(halibench.load(str(folder)), "mnist-semisup", name=123, **run)


def test_a_network_without_identity_is_never_cached_and_taken_names_are_refused(tmp_path):
    """A loaded network with a hook has no identity: its features must not share a cache
    entry with another such network. A folder named like a shipped checkpoint, family or
    baseline is refused unless it holds that checkpoint's weights."""
    from halibench.evaluation.benchmark import model_sources
    from halibench.features.user import Encoder, as_encoder
    from halibench.models import build_model, preset
    from halibench.models.checkpoints import mark_latest, save_checkpoint

    torch.manual_seed(0)
    network = build_model(preset("hali", "28px", width=0.25))
    hooked = halibench.load(str(save_checkpoint(tmp_path / "run", network, {"step": 0})))
    hooked.encoder.register_forward_hook(lambda module, inputs, output: output)
    (source,) = model_sources(Encoder("hooked", hooked), ["z1"], (1, 28, 28))
    assert source.checkpoint_sha256 is None and not source.cacheable
    for taken in ("hali-mnist", "ali", "pca"):
        run = tmp_path / "runs" / taken
        mark_latest(run, save_checkpoint(run / "step-00000000", network, {"step": 0}), keep=2)
        for spec in (run, run / "." / "step-00000000" / ".."):
            with pytest.raises(HalibenchError, match="rename the folder"):
                model_sources(str(spec), ["z1"], (1, 28, 28))
        with pytest.raises(HalibenchError, match="rename the folder"):
            model_sources(as_encoder(halibench.load(str(run))), ["z1"], (1, 28, 28))
    # an exported checkpoint keeps its name (an earlier hali-mnist from an older checkout)
    exported = save_checkpoint(tmp_path / "old-checkout" / "hali-mnist", network, {"step": 0})
    (earlier,) = model_sources(str(exported), ["z1"], (1, 28, 28))
    (shipped,) = model_sources(str(REPO / "checkpoints" / "hali-mnist"), ["z1"], (1, 28, 28))
    assert earlier.model == shipped.model == "hali-mnist"
    assert earlier.checkpoint_sha256 != shipped.checkpoint_sha256
    images = torch.rand(3, 1, 28, 28)  # a model cast to float64 reads float64 images
    as_float = halibench.extract_features(network, images, ["z1"])["z1"]
    as_double = halibench.extract_features(network.double(), images, ["z1"])["z1"]
    assert as_double.dtype == as_float.dtype and abs(as_double - as_float).max() < 1e-4
