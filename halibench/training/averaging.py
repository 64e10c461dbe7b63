"""Polyak averaging: an exponential moving average (EMA) of a model's weights in training.

After every step, each floating-point weight and buffer of the average moves towards the
trained model's: ``avg = avg + (1 - d) * (w - avg)``, with ``d = min(decay, (1 + n) /
(10 + n))`` after ``n`` earlier updates, so the first steps' average is not dominated by
the initial weights. Integer buffers (batch norm's step counter) are copied. The average
draws no random numbers, so a run with it trains exactly as the same run without it.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """An averaged copy of ``model`` (kept in eval mode, no gradients)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"an average's decay lies in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def rate(self, updates_before: int) -> float:
        """The decay of the update that follows ``updates_before`` earlier ones."""
        return min(self.decay, (1 + updates_before) / (10 + updates_before))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, updates_before: int) -> None:
        """Move the average towards ``model`` (the same architecture) by one step."""
        mine, theirs = self.model.state_dict(), model.state_dict()
        floats = [k for k, v in mine.items() if v.is_floating_point()]
        torch._foreach_lerp_([mine[k] for k in floats], [theirs[k] for k in floats],
                             1.0 - self.rate(updates_before))
        for k, v in mine.items():
            if not v.is_floating_point():
                v.copy_(theirs[k])
