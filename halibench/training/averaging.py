"""Polyak averaging: an exponential moving average (EMA) of a model's weights in training.

After every step, each parameter and each batch-norm running statistic of the average moves
towards the trained model's: ``avg = avg + (1 - d) * (w - avg)``, with ``d = min(decay,
(1 + n) / (10 + n))`` after ``n`` earlier updates, so the first steps' average is not
dominated by the initial weights. Every other buffer is copied: counters, and spectral
norm's power-iteration vectors, which must stay unit vectors. The average draws no random
numbers, so a run with it trains exactly as the same run without it.
"""

from __future__ import annotations

import copy

import torch
from torch.nn.modules.batchnorm import _BatchNorm


def averaged_and_copied(model: torch.nn.Module) -> tuple[list[str], list[str]]:
    """Names in ``model.state_dict()`` to average (parameters, batch norm's float running
    statistics) and to copy (every other buffer)."""
    averaged = [name for name, _ in model.named_parameters()]
    copied = []
    for prefix, module in model.named_modules():
        for name, buffer in module.named_buffers(recurse=False):
            full = f"{prefix}.{name}" if prefix else name
            running_stat = isinstance(module, _BatchNorm) and buffer.is_floating_point()
            (averaged if running_stat else copied).append(full)
    return averaged, copied


class WeightAverage:
    """An averaged copy of ``model`` (kept in eval mode, no gradients)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"an average's decay lies in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.averaged, self.copied = averaged_and_copied(self.model)

    def rate(self, updates_before: int) -> float:
        """The decay of the update that follows ``updates_before`` earlier ones."""
        return min(self.decay, (1 + updates_before) / (10 + updates_before))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, updates_before: int) -> None:
        """Move the average towards ``model`` (the same architecture) by one step."""
        mine, theirs = self.model.state_dict(), model.state_dict()
        torch._foreach_lerp_([mine[k] for k in self.averaged],
                             [theirs[k] for k in self.averaged], 1.0 - self.rate(updates_before))
        for k in self.copied:
            mine[k].copy_(theirs[k])
