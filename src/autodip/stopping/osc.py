r"""OSC: the orthogonal stopping criterion (*Towards the Automation of Deep Image Prior*).

A fixed pseudo-noise :math:`p \sim \mathcal N(0, (1/25)^2)` is added to the measurement and the
network fits :math:`y + p`. Being orthogonal to the image and to the real corruption, :math:`p` is
reproduced only once the network starts fitting noise. The projection coefficient

.. math::

    c_t = \frac{\langle A(x_t),\, p\rangle}{\langle p, p\rangle}

rises from about 0 towards 1 as that happens; the stop is the point of maximum curvature of the
curve :math:`(t, c_t)` — its knee, where growth starts.

Curvature, as autodip reads the paper (whose equations were lost in extraction; see SPEC): the
paper normalises both axes of the curve; :math:`c_t` already runs over [0, 1], and the step axis is
divided by a fixed ``time_scale`` (3000 steps, DIP's denoising budget, on which the paper ran) —
not by the run's own budget, so that the stop does not depend on ``--iters``. At each sample
:math:`t`, the points over :math:`[t-L, t+L]` are expressed in the frame whose first axis runs
along the chord from the point at :math:`t-L` to the point at :math:`t+L`; a parabola
:math:`v = a u^2 + b u + c` is fitted and :math:`a` (positive where the curve bends upwards) is the
curvature. It is averaged over ``window`` steps, and that average is the score
(higher is better). A score is known ``L + window/2`` steps after the step it belongs to (``lag``);
the shared candidate rule, counting patience in scored steps, confirms the maximum once ``window/2``
more scored steps bring nothing higher — so the run stops once the peak is ``L + window`` steps
behind, as the paper's online use requires.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from autodip.physics.operators import Operator
from autodip.stopping.base import (
    Context,
    Criterion,
    Range,
    declare_options,
    register_criterion,
)


def chord_frame_curvature(x: np.ndarray, y: np.ndarray) -> float:
    """Quadratic coefficient of a parabola fitted to ``(x, y)`` in the frame of its end chord.

    The points are translated to the first one and rotated so that the chord from the first to the
    last point is the first axis; the second axis points to its left. A curve that bends upwards
    (convex) lies below its chord and gives a positive coefficient.

    Examples
    --------
    >>> u = np.linspace(-1, 1, 21)
    >>> chord_frame_curvature(u, u**2) > 0, chord_frame_curvature(u, -(u**2)) < 0
    (True, True)
    """
    dx, dy = x[-1] - x[0], y[-1] - y[0]
    length = float(np.hypot(dx, dy))
    if length == 0.0 or len(x) < 3:
        return 0.0
    ex, ey = dx / length, dy / length
    px, py = x - x[0], y - y[0]
    u = px * ex + py * ey
    v = -px * ey + py * ex
    return float(np.polyfit(u, v, 2)[0])


#: Offset of the pseudo-noise draw's seed from the run's seed (distinct from holdout's).
PSEUDO_NOISE_SEED_OFFSET = 7919


def draw_pseudo_noise(
    target: torch.Tensor, seed: int, std: float, operator: Operator | None = None
) -> torch.Tensor:
    r"""The fixed pseudo-noise :math:`p \sim \mathcal N(0, \mathrm{std}^2)` of a run with
    ``seed``, shaped like ``target`` and on its device; zero off the measured values
    (``operator.restrict``: an inpainting mask's holes), so that projections on it count measured
    values only. The same draw for the same seed, so a resumed run adds the same ``p``.
    """
    generator = torch.Generator().manual_seed(seed + PSEUDO_NOISE_SEED_OFFSET)
    noise = torch.randn(target.shape, generator=generator) * std
    noise = noise.to(target.device)
    return operator.restrict(noise) if operator is not None else noise


def coefficient(measured: torch.Tensor, noise: torch.Tensor) -> float:
    r""":math:`\langle m, p\rangle / \langle p, p\rangle` of values ``measured`` in the
    measurement's space on the pseudo-noise ``noise``.
    """
    return float((measured.float() * noise).sum() / (noise * noise).sum())


def projection(output: torch.Tensor, noise: torch.Tensor, operator: Operator) -> float:
    r"""The projection coefficient :math:`c = \langle A x, p\rangle / \langle p, p\rangle` of the
    estimate ``output`` on the pseudo-noise ``noise`` (in the measurement's space).
    """
    return coefficient(operator.A(output.float()), noise)


@register_criterion
class OrthogonalStopping(Criterion):
    """OSC with pseudo-noise std ``std``, curvature half-length ``L`` and averaging ``window``.

    ``half_length`` and ``window`` are in optimisation steps; they are rounded to whole monitored
    samples.
    """

    name = "osc"
    summary = (
        "OSC (Towards the Automation of Deep Image Prior): fits y plus a known "
        "pseudo-noise; stops where the output's projection on it bends most"
    )
    lower_is_better = False
    changes_objective = True
    option_ranges = declare_options(
        std=Range(0, low_open=True),
        half_length=Range(1),
        window=Range(0),
        time_scale=Range(0, low_open=True),
    )

    def __init__(
        self,
        std: float = 1 / 25,
        half_length: int = 300,
        window: int = 100,
        time_scale: float = 3000.0,
    ) -> None:
        if std <= 0:
            raise ValueError(f"std must be positive, got {std}")
        if half_length < 1 or window < 0:
            raise ValueError("half_length must be ≥ 1 step and window ≥ 0 steps")
        self.std = std
        self.half_length = half_length
        self.window = window
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.time_scale = time_scale
        # patience counts scored steps, which trail by ``lag``: L + window/2 + window/2 in all
        self.default_patience = max(1, window // 2)
        self.noise: torch.Tensor | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the curve (the pseudo-noise stays until :meth:`objective_offset` is called)."""
        self.steps: list[int] = []
        self.coefficients: list[float] = []
        self.curvatures: list[float] = []
        self._scored_step = -1
        self.lag = self.half_length + self.window // 2

    def objective_offset(
        self, target: torch.Tensor, seed: int, operator: Operator | None = None
    ) -> torch.Tensor:
        """Draw the pseudo-noise ``p`` (seeded) for a measurement like ``target``.

        ``p`` lives on the measured values only (``operator.restrict``: the known pixels of an
        inpainting mask), so that :math:`c_t` is the projection over measured pixels.
        """
        self.noise = draw_pseudo_noise(target, seed, self.std, operator)
        return self.noise

    def score_step(self, step: int) -> int:
        """The step the latest score belongs to."""
        return self._scored_step

    def update(self, step: int, output: torch.Tensor, context: Context) -> float | None:
        """Record ``c_t``; return the averaged curvature of the step ``lag`` steps back, if
        known.
        """
        if self.noise is None:
            raise ValueError("OSC needs its pseudo-noise in the objective (objective_offset)")
        return self.add(step, projection(output, self.noise, context.operator))

    def add(self, step: int, coefficient: float) -> float | None:
        """Record :math:`c_t` at ``step``; return the averaged curvature of the step ``lag``
        steps back, if known. What :meth:`update` does once it has projected the output, and how
        a recorded curve is replayed under other windows (:func:`replay_scores`).
        """
        self.coefficients.append(coefficient)
        self.steps.append(step)
        if len(self.steps) < 2:
            return None
        spacing = self.steps[1] - self.steps[0]
        k, h = self.samples(spacing)
        self.lag = (k + h) * spacing
        centre = len(self.steps) - 1 - k
        if centre >= k:
            x = np.asarray(self.steps[centre - k : centre + k + 1], float) / self.time_scale
            y = np.asarray(self.coefficients[centre - k : centre + k + 1])
            self.curvatures.append(chord_frame_curvature(x, y))
        # curvatures[j] belongs to sample j + k; average 2h + 1 of them around sample j + k + h.
        if len(self.curvatures) < 2 * h + 1:
            return None
        self._scored_step = self.steps[len(self.curvatures) - 1 - h + k]
        return float(np.mean(self.curvatures[-(2 * h + 1) :]))

    def samples(self, spacing: int) -> tuple[int, int]:
        """The curvature's half-length and half the averaging window, in samples ``spacing``
        steps apart; a score is known ``(k + h) · spacing`` steps after its step.
        """
        return max(1, round(self.half_length / spacing)), round(self.window / (2 * spacing))

    def trace(self) -> dict[str, list[float]]:
        """The projection curve :math:`c_t` at every monitored step (to replay other windows)."""
        return {"steps": list(self.steps), "coefficients": list(self.coefficients)}

    def describe(self) -> dict[str, Any]:
        """Name and parameters."""
        return {
            "name": self.name,
            "std": self.std,
            "half_length": self.half_length,
            "window": self.window,
            "time_scale": self.time_scale,
        }


def replay_scores(
    steps: list[int], coefficients: list[float], **options: Any
) -> tuple[list[int], list[float]]:
    """The scores OSC with ``options`` (``half_length``, ``window``, ``time_scale``) gives a
    recorded projection curve (:meth:`OrthogonalStopping.trace`), and the steps they belong to:
    what an online run with those options would have scored, without running it again.

    Examples
    --------
    >>> steps = list(range(10, 3001, 10))
    >>> curve = [1 / (1 + np.exp(-(t - 1500) / 150)) for t in steps]
    >>> scored, scores = replay_scores(steps, curve, half_length=300, window=100)
    >>> scored[int(np.argmax(scores))]  # near the knee (step 1000 analytically)
    930

    Raises
    ------
    ValueError
        If the steps do not increase (OSC reads the spacing of its samples from the first two).
    """
    if np.any(np.diff(np.asarray(steps, dtype=np.int64)) <= 0):
        raise ValueError("the steps of a projection curve must increase")
    criterion = OrthogonalStopping(**options)
    scored, scores = [], []
    for step, coefficient in zip(steps, coefficients, strict=True):
        score = criterion.add(step, coefficient)
        if score is not None:
            scored.append(criterion.score_step(step))
            scores.append(score)
    return scored, scores
