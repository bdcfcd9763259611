"""No-reference quality scores as criteria: BRISQUE and NIQE (lower is better).

Seed 000 compares CIFS against these two; they score each estimate on its own, through
:mod:`autodip.metrics.no_reference` (OpenCV-contrib's BRISQUE with the LIVE model; our NIQE with
the LIVE pristine
parameters). A flat image (no contrast) has no defined score — the IQA functions return ``inf``
— so these criteria give no score for it (early DIP outputs can be nearly flat).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from autodip.stopping.base import (
    Context,
    Criterion,
    Range,
    declare_options,
    register_criterion,
)


@register_criterion
class Brisque(Criterion):
    """BRISQUE score of the estimate (Mittal, Moorthy, Bovik, IEEE TIP 2012)."""

    name = "brisque"
    channels = (1, 3)
    default_patience = 500

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return the BRISQUE score of ``output``."""
        from autodip.metrics.no_reference import brisque

        return _finite_or_none(brisque(output.detach().float().cpu().numpy()[0]))


@register_criterion
class Niqe(Criterion):
    """NIQE score of the estimate (Mittal, Soundararajan, Bovik, IEEE SPL 2013).

    Patches of 48 pixels by default rather than the published 96: DIP images of 256² would give
    only 4 patches of 96, on which the score is unstable across noise seeds (measured in
    ``tests/test_iqa.py``'s development); 48 still orders clean below σ = 50 reliably.
    """

    name = "niqe"
    channels = (1, 3)
    default_patience = 500
    option_ranges = declare_options(patch_size=Range(8))

    def __init__(self, patch_size: int = 48) -> None:
        if patch_size % 2:
            raise ValueError(f"niqe.patch_size must be even, got {patch_size}")
        self.patch_size = patch_size

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Return the NIQE score of ``output``."""
        from autodip.metrics.no_reference import niqe

        score = niqe(output.detach().float().cpu().numpy()[0], patch_size=self.patch_size)
        return _finite_or_none(score)

    def describe(self) -> dict[str, Any]:
        """Name and patch size."""
        return {"name": self.name, "patch_size": self.patch_size}


def _finite_or_none(score: float) -> float | None:
    return score if math.isfinite(score) else None
