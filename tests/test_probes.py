import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from halibench.probes import L2SVM, KNNProbe, LinearProbe
from halibench.probes.newton import solve_path
from halibench.probes.paths import fit_path


def planted(n=300, d=20, k=3, seed=0):
    """Linearly separable classes: labels are the argmax of one planted linear map (the same
    for every ``seed``; the seed draws the points)."""
    w = np.random.default_rng(1000 + d * k).normal(size=(d, k))
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x, (x @ w).argmax(1)


@pytest.mark.parametrize("probe", [L2SVM(C=10.0, backend="torch"),
                                   L2SVM(C=10.0, backend="sklearn"),
                                   LinearProbe(C=100.0)])
def test_linear_probes_recover_a_planted_separator(probe):
    x, y = planted()
    held_out_x, held_out_y = planted(n=200, seed=1)  # new points, the same planted map
    assert not np.isin(held_out_x[:, 0], x[:, 0]).any()
    assert probe.fit(x, y) is probe
    assert probe.score(x, y) > 0.95
    assert probe.score(held_out_x, held_out_y) > 0.9


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


def test_knn_neighbours_do_not_move_with_a_shared_offset():
    """Euclidean neighbours are the same after adding one constant to every feature; in
    float32 an offset of 1e4 over features spread by 1e-2 once erased them."""
    rng = np.random.default_rng(1)
    x, xq = rng.normal(scale=1e-2, size=(300, 16)), rng.normal(scale=1e-2, size=(50, 16))
    y = rng.integers(0, 5, 300)
    plain = KNNProbe().fit(x, y).predict(xq)
    shifted = KNNProbe().fit(x + 1e4, y).predict(xq + 1e4)
    assert (plain == shifted).mean() > 0.95


@parametrize_with_checks([L2SVM(), L2SVM(backend="sklearn"), LinearProbe(), KNNProbe()])
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's own conventions (no expected failures)."""
    check(estimator)


def test_unknown_backend_raises():
    with pytest.raises(ValueError, match="backend must be one of"):
        L2SVM(backend="gpu").fit(*planted(n=20))


def attribute_problem(n, d, k=3, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 0.3
    y = (x[:, :k] + 0.5 * rng.normal(size=(n, k)) > 0.2)
    return x, torch.from_numpy(np.where(y, 1.0, -1.0))


def objective(probe, x, y, w, b, c):
    """The problem both backends solve (the L2-SVM regularises its bias, logistic not)."""
    m = y * (x @ w + b)
    if probe == "l2svm":
        return 0.5 * (w @ w + b * b) + c * np.sum(np.clip(1 - m, 0, None) ** 2)
    return 0.5 * w @ w + c * np.sum(np.logaddexp(0, -m))


@pytest.mark.parametrize("probe", ["l2svm", "linear"])
@pytest.mark.parametrize("shape", [(200, 20), (60, 150)])  # primal (d < n) and row space
def test_batched_path_solves_as_well_as_the_sklearn_reference(probe, shape):
    x, t = attribute_problem(*shape)
    grid = np.exp([-4.0, -1.0, 2.0])
    xt = torch.from_numpy(x)[None]
    fast = fit_path(probe, xt, t[None], grid, "torch")
    ref = fit_path(probe, xt, t[None], grid, "sklearn")
    assert fast.coef.shape == ref.coef.shape == (1, shape[1], 3, 3)
    for i, c in enumerate(grid):
        for j in range(3):
            f = [objective(probe, x, t[:, j].numpy(), p.coef[0, :, i, j].double().numpy(),
                           float(p.intercept[0, i, j]), c) for p in (fast, ref)]
            assert f[0] <= f[1] * (1 + 1e-3), (c, j, f)
    a, b = fast.decisions(xt[0].float()), ref.decisions(xt[0].float())
    assert ((a > 0) == (b > 0)).float().mean() > 0.97
    assert fast.convergence.not_converged == 0 and fast.convergence.solves == 9


@pytest.mark.parametrize("probe", ["l2svm", "linear"])
def test_all_outputs_at_once_equal_one_output_at_a_time(probe):
    x, t = attribute_problem(120, 30, k=4)
    xt = torch.from_numpy(x)[None]
    grid = np.exp([-2.0, 1.0])
    together = fit_path(probe, xt, t[None], grid).decisions(xt[0].float())
    for j in range(4):
        alone = fit_path(probe, xt, t[None, :, j:j + 1], grid).decisions(xt[0].float())
        # the same problem to the solver's tolerance (float32 batched products differ
        # in their last bits with the batch's size)
        np.testing.assert_allclose(alone[..., 0], together[..., j],
                                   atol=5e-3 * float(together[..., j].abs().max()))


def test_draws_are_solved_independently():
    x1, t1 = attribute_problem(80, 40, seed=1)
    x2, t2 = attribute_problem(80, 40, seed=2)
    both = fit_path("l2svm", torch.from_numpy(np.stack([x1, x2])), torch.stack([t1, t2]),
                    np.array([1.0]))
    second = fit_path("l2svm", torch.from_numpy(x2)[None], t2[None], np.array([1.0]))
    probe_x = torch.from_numpy(x2).float()
    np.testing.assert_allclose(both.decisions(probe_x, 1), second.decisions(probe_x),
                               atol=1e-3)


def test_a_problem_stopped_at_its_cap_is_reported():
    x, t = attribute_problem(100, 30)
    capped = solve_path(torch.from_numpy(x)[None], t[None], [1e4], "logistic", max_iter=1)
    assert capped.convergence.not_converged == 3 and capped.convergence.solves == 3
    assert capped.convergence.max_relative_gradient > 1e-3
    full = solve_path(torch.from_numpy(x)[None], t[None], [1e4], "logistic")
    assert full.convergence.not_converged == 0


def test_estimators_agree_across_backends_on_multiclass():
    x, y = planted(n=200, d=10, k=4)
    for est in (L2SVM, LinearProbe):
        a = est(C=1.0, backend="torch").fit(x, y)
        b = est(C=1.0, backend="sklearn").fit(x, y)
        assert a.coef_.shape == b.coef_.shape == (4, 10)
        assert (a.predict(x) == b.predict(x)).mean() > 0.98


def test_validation_sweep_accuracy_matches_torchmetrics():
    from halibench.evaluation.metrics import accuracies, accuracy

    rng = np.random.default_rng(0)
    preds = torch.from_numpy(rng.integers(0, 4, size=(50, 3)))
    labels = torch.from_numpy(rng.integers(0, 4, size=50))
    sweep = accuracies(preds, labels)
    for j in range(3):
        assert float(sweep[j]) == pytest.approx(accuracy(preds[:, j], labels, 4))
