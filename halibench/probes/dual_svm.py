"""A batched solver for the dual of the L2-regularised, squared-hinge (L2-loss) linear SVM.

It solves the problem liblinear solves for scikit-learn's ``LinearSVC`` (bias as a constant
feature that is regularised too): for each column (a draw, a C value, a one-vs-rest class)

    min_a  1/2 a'(Q + I/(2C))a - 1'a,  a >= 0,  Q = diag(y) (X X' + 1) diag(y),

with accelerated projected gradient (FISTA, adaptive restart). All draws and classes share
one batched matrix product per iteration; the C values are solved as a path in ascending
order, each warm-started from the previous solution (large-C problems, which are the
ill-conditioned ones, then start next to their answer).
"""

from __future__ import annotations

import torch


def gram(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """(X Y' + 1): the linear kernel with the bias as a constant feature."""
    return x @ (x if y is None else y).transpose(-1, -2) + 1.0


def fista(kernel: torch.Tensor, y: torch.Tensor, diag: float, a: torch.Tensor,
          step: torch.Tensor, max_iter: int, tol: float, check_every: int) -> torch.Tensor:
    """Projected accelerated gradient on one C value from the starting point ``a``."""

    def gradient(v: torch.Tensor) -> torch.Tensor:
        return y * torch.bmm(kernel, y * v) + diag * v - 1.0

    z = a.clone()
    t = torch.ones(a.shape[0], 1, a.shape[2], dtype=a.dtype, device=a.device)
    for it in range(max_iter):
        if it % check_every == 0:
            ga = gradient(a)
            if torch.where(a > 0, ga, ga.clamp(max=0.0)).abs().amax() < tol:
                break
        g = gradient(z)
        a_new = (z - step * g).clamp_(min=0.0)
        t_new = (1.0 + torch.sqrt(1.0 + 4.0 * t * t)) / 2.0
        restart = (g * (a_new - a)).sum(dim=1, keepdim=True) > 0
        momentum = torch.where(restart, 0.0, (t - 1.0) / t_new)
        z = a_new + momentum * (a_new - a)
        t = torch.where(restart, torch.ones_like(t_new), t_new)
        a = a_new
    return a


def solve_dual(kernel: torch.Tensor, targets: torch.Tensor, cs: torch.Tensor,
               max_iter: int = 5000, tol: float = 1e-3, check_every: int = 10
               ) -> torch.Tensor:
    """Dual coefficients times labels, beta = a * y, of shape (B, n, m * k).

    kernel: (B, n, n) Gram matrices (bias included); targets: (B, n, k) in {-1, +1};
    cs: (m,) C values. Column j of the result is C value j // k and class j % k.
    Decision values for new points are ``gram(x_new, x_labelled) @ beta``.
    Each C stops when every projected-gradient entry is below ``tol``.
    """
    y = targets.to(kernel.dtype)
    lam_max = torch.linalg.eigvalsh(kernel)[:, -1][:, None, None]
    a = torch.zeros_like(y)
    betas = [torch.empty(0)] * len(cs)
    for j in torch.argsort(cs).tolist():
        diag = 1.0 / (2.0 * float(cs[j]))
        a = fista(kernel, y, diag, a, 1.0 / (lam_max + diag), max_iter, tol, check_every)
        betas[j] = y * a
    return torch.cat(betas, dim=2)


def decision_values(x_new: torch.Tensor, x_labelled: torch.Tensor, beta: torch.Tensor
                    ) -> torch.Tensor:
    """(N, m * k) decision values of the columns of ``beta`` (one draw)."""
    return gram(x_new, x_labelled) @ beta
