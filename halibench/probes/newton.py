"""Batched primal Newton-CG for L2-regularised linear probes, many outputs in one solve.

For every problem (a draw b, an output column j: a one-vs-rest class or an attribute) and
every C value, it minimises

    1/2 |w|^2 + C sum_i loss(y_ij (z_i . w + bias))

with ``loss`` the squared hinge (liblinear's L2-loss SVM: the bias is a constant feature and
is regularised) or the logistic loss (scikit-learn's LogisticRegression: the bias is free).

How the work is shared:
- Features are first rotated into their principal axes (the eigenvectors of X'X, or of XX'
  when there are more features than rows: an L2-penalised model's weights lie in the rows'
  span, so at most n coordinates are needed). In that basis the Jacobi preconditioner of
  the conjugate gradients is nearly exact.
- Every Newton step of every problem is taken at once: the gradients and Hessian-vector
  products of all outputs are one batched matrix product with the shared features.
- The C values are solved as a path in ascending order, each warm-started from the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LOSSES = ("squared_hinge", "logistic")
DEFAULTS = {"tol": 1e-4, "max_iter": 100, "cg_max_iter": 200}


@dataclass
class Convergence:
    """How a path solve ended: summed Newton iterations, the largest remaining gradient
    norm relative to the gradient at zero, and how many (problem, C) solves hit the cap."""

    newton_iterations: int = 0
    max_relative_gradient: float = 0.0
    not_converged: int = 0
    solves: int = 0

    def merge(self, other: Convergence) -> Convergence:
        return Convergence(self.newton_iterations + other.newton_iterations,
                           max(self.max_relative_gradient, other.max_relative_gradient),
                           self.not_converged + other.not_converged,
                           self.solves + other.solves)

    def as_record(self) -> dict[str, float | int]:
        return {"newton_iterations": self.newton_iterations,
                "max_relative_gradient": float(f"{self.max_relative_gradient:.3g}"),
                "not_converged": self.not_converged, "solves": self.solves}


@dataclass
class LinearPath:
    """Decision functions x . coef + intercept of every (draw, C value, output).

    coef: (B, d, m, k); intercept: (B, m, k)."""

    coef: torch.Tensor
    intercept: torch.Tensor
    convergence: Convergence

    def decisions(self, x: torch.Tensor, draw: int = 0) -> torch.Tensor:
        """(N, m, k) decision values of draw ``draw`` on the rows of ``x`` (N, d)."""
        coef = self.coef[draw]
        d, m, k = coef.shape
        out = x.to(coef.dtype) @ coef.reshape(d, m * k)
        return out.reshape(len(x), m, k) + self.intercept[draw]


def principal_basis(x: torch.Tensor) -> torch.Tensor:
    """(B, d, r) orthonormal axes of the rows of ``x`` (B, n, d), in float64: all d
    eigenvectors of X'X when d <= n, else the r <= n directions of the rows' span."""
    x = x.double()
    n, d = x.shape[-2:]
    if d <= n:
        return torch.linalg.eigh(x.transpose(1, 2) @ x).eigenvectors
    lam, u = torch.linalg.eigh(x @ x.transpose(1, 2))
    keep = lam > lam[:, -1:] * max(n, d) * torch.finfo(torch.float64).eps
    r = int(keep.sum(1).max())
    lam, u = lam[:, -r:], u[:, :, -r:]  # eigh sorts ascending: the largest r
    scale = torch.where(lam > 0, lam.clamp(min=1e-300).rsqrt(), torch.zeros_like(lam))
    return x.transpose(1, 2) @ (u * scale[:, None, :])


def loss_terms(margins: torch.Tensor, loss: str
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-point loss, its derivative and (generalised) second derivative in the margin."""
    if loss == "squared_hinge":
        slack = (1.0 - margins).clamp(min=0.0)
        return slack * slack, -2.0 * slack, 2.0 * (slack > 0).to(margins.dtype)
    p = torch.sigmoid(-margins)
    return torch.nn.functional.softplus(-margins), -p, p * (1.0 - p)


class Problems:
    """The batched problems of one C value: coordinates ``z`` (B, n, r), targets ``y``
    (B, n, k) in {-1, +1}, an optional free bias per problem."""

    def __init__(self, z: torch.Tensor, y: torch.Tensor, loss: str, free_bias: bool) -> None:
        self.z, self.y, self.loss, self.free_bias = z, y, loss, free_bias
        self.z_squared = z * z
        self.zt = z.transpose(1, 2)

    def margins(self, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.y * (torch.bmm(self.z, w) + b)

    def objective(self, w: torch.Tensor, b: torch.Tensor, c: float,
                  margins: torch.Tensor | None = None) -> torch.Tensor:
        m = self.margins(w, b) if margins is None else margins
        value = loss_terms(m, self.loss)[0].double().sum(1)
        return 0.5 * (w.double() ** 2).sum(1) + c * value

    def gradient(self, w: torch.Tensor, b: torch.Tensor, c: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gradients in w and b, and the curvature weights c * loss'' per point."""
        _, d1, d2 = loss_terms(self.margins(w, b), self.loss)
        yd1 = self.y * d1
        gw = w + c * torch.bmm(self.zt, yd1)
        gb = c * yd1.sum(1, keepdim=True) if self.free_bias else torch.zeros_like(b)
        return gw, gb, c * d2

    def hessian_product(self, curv: torch.Tensor, vw: torch.Tensor, vb: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        t = curv * (torch.bmm(self.z, vw) + vb)
        hb = t.sum(1, keepdim=True) if self.free_bias else torch.zeros_like(vb)
        return vw + torch.bmm(self.zt, t), hb

    def preconditioner(self, curv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pw = 1.0 + torch.bmm(self.z_squared.transpose(1, 2), curv)
        pb = curv.sum(1, keepdim=True).clamp(min=1e-12)
        return pw, pb


def norms(gw: torch.Tensor, gb: torch.Tensor) -> torch.Tensor:
    """(B, k) Euclidean norms of the gradients of each problem."""
    return (gw.double() ** 2).sum(1).add((gb.double() ** 2).sum(1)).sqrt()


def conjugate_gradient(problems: Problems, curv: torch.Tensor, gw: torch.Tensor,
                       gb: torch.Tensor, active: torch.Tensor, forcing: torch.Tensor,
                       max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Preconditioned CG on H p = -g for every active problem, each stopped at its own
    residual ``forcing * |g|`` (a truncated Newton step)."""
    pw_inv, pb_inv = (1.0 / p for p in problems.preconditioner(curv))
    mask = active[:, None, :].to(gw.dtype)
    xw, xb = torch.zeros_like(gw), torch.zeros_like(gb)
    rw, rb = -gw * mask, -gb * mask
    sw, sb = rw * pw_inv, rb * pb_inv
    dw, db = sw.clone(), sb.clone()
    rho = (rw * sw).sum(1) + (rb * sb).sum(1)
    target = forcing * norms(gw, gb)
    for _ in range(max_iter):
        running = (norms(rw, rb) > target) & active
        if not running.any():
            break
        hw, hb = problems.hessian_product(curv, dw, db)
        curvature = (dw * hw).sum(1) + (db * hb).sum(1)
        alpha = torch.where(running, rho / curvature.clamp(min=1e-30), 0.0)[:, None, :]
        xw, xb = xw + alpha * dw, xb + alpha * db
        rw, rb = rw - alpha * hw, rb - alpha * hb
        sw, sb = rw * pw_inv, rb * pb_inv
        rho_new = (rw * sw).sum(1) + (rb * sb).sum(1)
        beta = (rho_new / rho.clamp(min=1e-30))[:, None, :]
        dw, db = sw + beta * dw, sb + beta * db
        rho = rho_new
    return xw, xb


def newton(problems: Problems, c: float, w: torch.Tensor, b: torch.Tensor, tol: float,
           max_iter: int, cg_max_iter: int
           ) -> tuple[torch.Tensor, torch.Tensor, Convergence]:
    """Newton-CG with Armijo backtracking from (w, b) until |g| <= tol |g(0)| per problem.
    A problem whose line search finds no descent (the float32 noise floor) stops there."""
    gw0, gb0, _ = problems.gradient(torch.zeros_like(w), torch.zeros_like(b), c)
    scale = norms(gw0, gb0).clamp(min=1e-30)
    stalled = torch.zeros_like(scale, dtype=torch.bool)
    it = 0
    for it in range(max_iter + 1):  # noqa: B007 (the count is reported)
        gw, gb, curv = problems.gradient(w, b, c)
        relative = norms(gw, gb) / scale
        active = (relative > tol) & ~stalled
        if it == max_iter or not active.any():
            break
        forcing = relative.sqrt().clamp(max=0.5) * 0.5
        pw, pb = conjugate_gradient(problems, curv, gw, gb, active, forcing, cg_max_iter)
        m0 = problems.margins(w, b)
        dm = problems.y * (torch.bmm(problems.z, pw) + pb)
        f0 = problems.objective(w, b, c, m0)
        slope = (gw.double() * pw).sum(1) + (gb.double() * pb).sum(1)
        step = torch.zeros_like(f0)
        pending = active.clone()
        t = 1.0
        for _ in range(30):
            f_t = problems.objective(w + t * pw, b + t * pb, c, m0 + t * dm)
            accept = pending & (f_t <= f0 + 1e-4 * t * slope)
            step = torch.where(accept, t, step)
            pending &= ~accept
            if not pending.any():
                break
            t *= 0.5
        stalled |= pending
        s = step.to(w.dtype)[:, None, :]
        w, b = w + s * pw, b + s * pb
    unfinished = relative > tol
    return w, b, Convergence(it, float(relative.max()), int(unfinished.sum()),
                             unfinished.numel())


def solve_path(x: torch.Tensor, targets: torch.Tensor, cs: list[float] | torch.Tensor,
               loss: str, *, tol: float = DEFAULTS["tol"], max_iter: int = DEFAULTS["max_iter"],
               cg_max_iter: int = DEFAULTS["cg_max_iter"], dtype: torch.dtype = torch.float32
               ) -> LinearPath:
    """Every (draw, C, output) probe of ``loss`` on features ``x`` (B, n, d) with targets
    (B, n, k) in {-1, +1}, on x's device. Returns coefficients in the original features."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    x = x.double()
    ones = torch.ones(*x.shape[:2], 1, dtype=x.dtype, device=x.device)
    free_bias = loss == "logistic"
    if free_bias:  # the free bias absorbs the mean; centred axes keep CG well conditioned
        mean = x.mean(1, keepdim=True)
        x = x - mean
    else:  # liblinear: the bias is a regularised constant feature
        x = torch.cat([x, ones], dim=2)
    basis = principal_basis(x)
    z = (x @ basis).to(dtype)
    problems = Problems(z, targets.to(dtype), loss, free_bias)
    b_shape = (x.shape[0], 1, targets.shape[2])
    w = torch.zeros(x.shape[0], z.shape[2], targets.shape[2], dtype=dtype, device=x.device)
    b = torch.zeros(b_shape, dtype=dtype, device=x.device)
    cs = torch.as_tensor(cs, dtype=torch.float64)
    coefs: list[torch.Tensor] = [torch.empty(0)] * len(cs)
    intercepts: list[torch.Tensor] = [torch.empty(0)] * len(cs)
    report = Convergence()
    for j in torch.argsort(cs).tolist():
        w, b, conv = newton(problems, float(cs[j]), w, b, tol, max_iter, cg_max_iter)
        report = report.merge(conv)
        coef = basis @ w.double()  # (B, d or d + 1, k)
        if free_bias:
            coefs[j], intercepts[j] = coef, b.double()[:, 0] - (mean @ coef)[:, 0]
        else:
            coefs[j], intercepts[j] = coef[:, :-1], coef[:, -1]
    return LinearPath(torch.stack(coefs, dim=2).float(), torch.stack(intercepts, dim=1).float(),
                      report)
