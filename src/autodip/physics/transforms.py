r"""The eight flips and rotations of an image (the dihedral group :math:`D_4`), and the operators
they commute with.

A transform :math:`T` is a rotation by ``k`` quarter turns (counter-clockwise), after an optional
left-right mirror: :math:`T(x) = R^k M^f x` with :math:`f \in \{0, 1\}`. Each is a permutation of
the pixels, so :math:`T^{-1}` (:func:`invert`) restores an image exactly. An ensemble member
(:mod:`autodip.core.ensemble`) restores :math:`T y` through :math:`T A T^{-1}` and maps its
estimate back with :math:`T^{-1}`; that is the same problem when :math:`T A = A' T` for an
operator :math:`A'` of the same kind (:func:`transform_operator`):

* :class:`~autodip.physics.operators.Denoise`: :math:`A = I`, so :math:`A' = I`.
* :class:`~autodip.physics.operators.Inpaint`: :math:`T (m \odot x) = (T m) \odot (T x)`, so
  :math:`A'` is the inpainting of the transformed mask :math:`T m`.
* :class:`~autodip.physics.operators.SuperResolve`: the Lanczos-2 kernel is symmetric and
  separable, the edge padding is the same on both sides, and low-resolution pixel ``i`` is the
  filtered value at the centre of high-resolution block ``[i f, (i+1) f)``; mirroring an axis
  maps block ``i`` to block ``h − 1 − i`` and swapping the axes swaps the two 1-D passes. So
  :math:`A' = A` for all eight (``tests/test_transforms.py`` checks it on random images for
  factors 2 to 8, to float32 rounding).

Examples
--------
>>> x = torch.arange(6.0).view(1, 1, 2, 3)
>>> apply(x, "rot90")[0, 0].tolist()
[[2.0, 5.0], [1.0, 4.0], [0.0, 3.0]]
>>> bool(torch.equal(invert(apply(x, "flip-rot90"), "flip-rot90"), x))
True
"""

from __future__ import annotations

import torch

from autodip.physics.operators import Denoise, Inpaint, Operator, SuperResolve

#: Each transform's (quarter turns, mirrored first). The order is the order ensemble members take
#: them in: the four that keep an image's height and width first (the identity, the half turn and
#: the two mirrors), so that ensembles of up to 4 members run on the image's own shape.
DIHEDRAL: dict[str, tuple[int, bool]] = {
    "identity": (0, False),
    "rot180": (2, False),
    "flip": (0, True),
    "flip-rot180": (2, True),
    "rot90": (1, False),
    "rot270": (3, False),
    "flip-rot90": (1, True),
    "flip-rot270": (3, True),
}


def _turns(name: str) -> tuple[int, bool]:
    try:
        return DIHEDRAL[name]
    except KeyError:
        raise ValueError(f"unknown transform {name!r}; choose from {', '.join(DIHEDRAL)}") from None


def apply(x: torch.Tensor, name: str) -> torch.Tensor:
    """:math:`T x` on the last two axes (height, width) of ``x``; a new contiguous tensor."""
    turns, mirrored = _turns(name)
    if mirrored:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, turns, dims=(-2, -1)).contiguous()


def invert(x: torch.Tensor, name: str) -> torch.Tensor:
    """:math:`T^{-1} x`: undo :func:`apply` exactly (a permutation of the pixels)."""
    turns, mirrored = _turns(name)
    x = torch.rot90(x, -turns, dims=(-2, -1))
    if mirrored:
        x = torch.flip(x, dims=(-1,))
    return x.contiguous()


def transform_operator(operator: Operator, name: str) -> Operator:
    """The operator :math:`A'` with :math:`T A = A' T` (see the module).

    Raises
    ------
    ValueError
        For an operator of another kind and a transform other than the identity: its
        commutation with the transforms is not known.
    """
    _turns(name)
    if name == "identity":  # every operator commutes with it: a seeds-only ensemble of one's own
        return operator
    if isinstance(operator, Inpaint):
        return Inpaint(apply(operator.mask[0].cpu(), name))
    if isinstance(operator, Denoise | SuperResolve):
        return operator
    raise ValueError(
        f"the flips and rotations are known to commute with denoising, inpainting and "
        f"super-resolution only, not with {operator.name}"
    )
