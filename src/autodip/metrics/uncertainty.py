r"""An ensemble's uncertainty map and how well it ranks the actual error.

For ``K`` estimates :math:`x_1, \dots, x_K` of the same image (the members of an ensemble,
:mod:`autodip.core.ensemble`) the map is the per-pixel standard deviation across them,

.. math::

    u(p) = \frac{1}{C} \sum_{c=1}^{C} \sqrt{\frac{1}{K} \sum_{k=1}^{K}
    \big(x_k(c, p) - \bar x(c, p)\big)^2}, \qquad \bar x = \frac{1}{K} \sum_k x_k,

averaged over the ``C`` channels. It is the *disagreement between Deep Image Prior solutions*
that differ by their random draws (and flips or rotations), not a calibrated posterior: pixels
where the members agree can still be wrong together. How useful it is, is measured by how well it
ranks the actual error :math:`e(p) = \frac{1}{C}\sum_c |\bar x(c, p) - x^\star(c, p)|` against the
clean image :math:`x^\star`: Spearman's rank correlation :math:`\rho(u, e)` over the pixels
(:func:`error_ranking`; 1: the map orders the pixels exactly as their errors, 0: no relation).

Examples
--------
>>> members = np.stack([np.zeros((1, 4, 4)), np.ones((1, 4, 4))])
>>> float(pixel_std(members).max())
0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: What the map is, in the words the report uses.
MEANING = (
    "the per-pixel standard deviation across the ensemble's members: where the Deep Image Prior "
    "solutions disagree, not a calibrated posterior (members can agree and all be wrong)"
)


def pixel_std(members: np.ndarray) -> np.ndarray:
    """The map :math:`u` (``H×W``) of ``K×C×H×W`` member estimates (see the module)."""
    stack = np.asarray(members, dtype=np.float64)
    if stack.ndim != 4:
        raise ValueError(f"members must be K×C×H×W, got shape {stack.shape}")
    return stack.std(axis=0).mean(axis=0)


def error_ranking(uncertainty: np.ndarray, estimate: np.ndarray, reference: np.ndarray) -> float:
    r"""Spearman's :math:`\rho` between the map ``uncertainty`` (``H×W``) and the per-pixel
    absolute error of ``estimate`` against ``reference`` (both ``C×H×W``).

    ``nan`` when either is constant (no ranking to compare).

    Examples
    --------
    >>> reference = np.zeros((1, 2, 2))
    >>> estimate = np.array([[[0.1, 0.2], [0.3, 0.4]]])
    >>> error_ranking(np.array([[1.0, 2.0], [3.0, 4.0]]), estimate, reference)
    1.0
    """
    from scipy.stats import spearmanr

    error = np.abs(np.asarray(estimate, np.float64) - np.asarray(reference, np.float64))
    error = error.mean(axis=0).ravel()
    spread = np.asarray(uncertainty, np.float64).ravel()
    if error.shape != spread.shape:
        raise ValueError(f"the map has {spread.size} pixels, the images {error.size}")
    if np.ptp(error) == 0 or np.ptp(spread) == 0:
        return float("nan")
    return float(spearmanr(spread, error).statistic)


def summarise(
    uncertainty: np.ndarray, estimate: np.ndarray, reference: np.ndarray | None = None
) -> dict[str, Any]:
    """The map in a few numbers, on the 0–255 scale: mean, median, 95th percentile and maximum;
    with a ``reference``, ``spearman_error`` (:func:`error_ranking`).
    """
    values = 255.0 * np.asarray(uncertainty, np.float64)
    summary: dict[str, Any] = {
        "what": MEANING,
        "scale": "0-255",
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
    }
    if reference is not None:
        summary["spearman_error"] = error_ranking(uncertainty, estimate, reference)
    return summary
