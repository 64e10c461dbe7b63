import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimators_unfitted, check_fit_score_takes_y

from halibench.probes import L2SVM, KNNProbe, LinearProbe


def planted(n=300, d=20, k=3, seed=0):
    """Linearly separable classes: labels are the argmax of a planted linear map."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, k))
    x = rng.normal(size=(n, d))
    y = (x @ w).argmax(1)
    return x, y


@pytest.mark.parametrize("probe", [L2SVM(C=10.0, backend="torch"),
                                   L2SVM(C=10.0, backend="sklearn"),
                                   LinearProbe(C=100.0)])
def test_linear_probes_recover_a_planted_separator(probe):
    x, y = planted()
    xt, yt = planted(seed=1)
    xt = xt @ np.eye(20)
    x2, y2 = planted(seed=0)
    assert probe.fit(x, y) is probe
    assert probe.score(x, y) > 0.97
    assert probe.score(x2[:50], y2[:50]) > 0.9


def test_knn_recovers_cluster_labels_and_chunks_agree():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=10, size=(4, 8))
    y = np.repeat(np.arange(4), 50)
    x = centers[y] + rng.normal(size=(200, 8))
    yq = np.repeat(np.arange(4), 10)
    xq = centers[yq] + rng.normal(size=(40, 8))
    a = KNNProbe(n_neighbors=1, chunk_size=7).fit(x, y).predict(xq)
    b = KNNProbe(n_neighbors=1, chunk_size=1000).fit(x, y).predict(xq)
    assert (a == yq).mean() > 0.95 and (a == b).all()
    assert KNNProbe(n_neighbors=5).fit(x, y).score(xq, yq) > 0.95


def test_torch_and_sklearn_l2svm_agree_on_a_binary_problem():
    x, y = planted(k=2, seed=3)
    a = L2SVM(C=1.0, backend="torch", tol=1e-5).fit(x, y)
    b = L2SVM(C=1.0, backend="sklearn").fit(x, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=2e-3)
    assert (a.predict(x) == b.predict(x)).mean() > 0.99


def test_multilabel_linear_probe_fits_one_model_per_attribute():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0.5], axis=1).astype(int)
    probe = LinearProbe(C=100.0).fit(x, y)
    assert probe.predict(x).shape == (200, 2)
    assert (probe.predict(x) == y).mean() > 0.97


@pytest.mark.parametrize("est", [L2SVM(), LinearProbe(), KNNProbe()])
def test_estimator_conventions(est):
    name = type(est).__name__
    check_estimators_unfitted(name, est)
    check_fit_score_takes_y(name, est)
    assert est.get_params() and type(est)(**est.get_params()).get_params() == est.get_params()


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match="backend must be one of"):
        L2SVM(backend="gpu").fit(*planted(n=20))


def test_attribute_svm_paths_agree_between_backends():
    from halibench.attributes import fit_sklearn_path, fit_torch_svm_path

    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 100))
    y = (x[:, :3] + 0.5 * rng.normal(size=(60, 3)) > 0).astype(np.uint8)
    grid = np.exp([-6.0, -4.0, -2.0])
    fast = fit_torch_svm_path(x, y, grid).decisions(x)
    reference = fit_sklearn_path("l2svm", x, y, grid, [0, 1, 2]).decisions(x)
    assert fast.shape == reference.shape == (60, 3, 3)
    np.testing.assert_allclose(fast, reference, atol=2e-3 * np.abs(reference).max())


@pytest.mark.parametrize("probe", ["l2svm", "linear"])
def test_row_space_fit_matches_the_fit_on_all_features(probe, monkeypatch):
    from halibench import attributes

    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 80))
    y = (x[:, :2] > 0).astype(np.uint8)
    grid = np.exp([-3.0, -1.0])
    assert attributes.row_space(x).shape == (80, 30)
    reduced = attributes.fit_sklearn_path(probe, x, y, grid, [0, 1]).decisions(x)
    monkeypatch.setattr(attributes, "row_space", lambda x: None)
    full = attributes.fit_sklearn_path(probe, x, y, grid, [0, 1]).decisions(x)
    np.testing.assert_allclose(reduced, full, atol=1e-3 * np.abs(full).max())
