"""One-call restoration: build the network, fit it, return the result.

:func:`denoise` is what the command line and most users call; researchers who want to swap parts
call :func:`autodip.runner.fit` with their own network, operator and monitors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from autodip.io import image_to_tensor
from autodip.nets import count_parameters, create_net
from autodip.operators import Denoise
from autodip.runner import FitConfig, Monitor, Result, fit
from autodip.stopping import Stopper, create_criterion

#: Defaults of ``autodip denoise``: the 2-level, width-64 hourglass of seed 003 (about 4× fewer
#: FLOPs than ``dip-skip`` at equal quality in that paper's Table 2) and an iteration budget chosen
#: on the bundled sample (see ``benchmarks/results/defaults.md``).
DEFAULT_NET = "hourglass"
DEFAULT_ITERS = 1000
#: The criterion that stops ``denoise`` by default; ``None`` runs all ``iters`` steps. CIFS with
#: its calibrated λ(σ) and patience 500: gap to the peak 0.41 / 0.47 / 0.12 dB at σ = 15 / 25 / 50
#: in ``benchmarks/results/stopping.md``, the best of the criteria that confirm their stops
#: (EMV's 0.30 mean needs patience 1000, where it rarely confirms).
DEFAULT_STOP: str | None = "cifs"


def build_stopper(
    stop: str | None,
    monitor: Sequence[str] = (),
    patience: int | None = None,
    options: dict[str, dict[str, Any]] | None = None,
) -> Stopper | None:
    """A :class:`~autodip.stopping.Stopper` for criterion names, or ``None`` if there are none.

    ``options`` maps a criterion name to its constructor options.
    """
    options = options or {}
    names = [n for n in monitor if n != stop]
    if stop is None and not names:
        return None
    primary = create_criterion(stop, **options.get(stop, {})) if stop else None
    monitored = [create_criterion(n, **options.get(n, {})) for n in names]
    return Stopper(primary, monitored, patience)


def as_image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Accept ``H×W``, ``C×H×W`` or ``1×C×H×W`` arrays or tensors in [0, 1]; return ``1×C×H×W``."""
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[None]
        if image.ndim == 3:
            return image_to_tensor(image)
        image = torch.from_numpy(np.array(image, dtype=np.float32))
    if image.ndim == 2:
        image = image[None, None]
    elif image.ndim == 3:
        image = image[None]
    return image.float()


def denoise(
    image: np.ndarray | torch.Tensor,
    *,
    net: str = DEFAULT_NET,
    iters: int = DEFAULT_ITERS,
    seed: int = 0,
    device: str = "auto",
    precision: str = "auto",
    reference: np.ndarray | torch.Tensor | None = None,
    stop: str | None = DEFAULT_STOP,
    monitor: Sequence[str] = (),
    patience: int | None = None,
    criterion_options: dict[str, dict[str, Any]] | None = None,
    monitors: Sequence[Monitor] = (),
    on_step: Callable[[int, float], None] | None = None,
    fit_options: dict[str, Any] | None = None,
    **net_options: Any,
) -> Result:
    """Restore a noisy image with a Deep Image Prior.

    Parameters
    ----------
    image
        The noisy image in [0, 1]: ``H×W``, ``C×H×W`` or ``1×C×H×W``.
    net
        A registered network name (:func:`autodip.nets.list_nets`); its output channels follow the
        image's. ``"auto"`` runs the 2-level bilinear ``hourglass`` with the width predicted from
        the image's texture (:func:`autodip.width_predictor.choose_architecture`); the choice and
        its evidence are in ``result.config["architecture"]``.
    iters, seed, device, precision
        See :class:`autodip.runner.FitConfig`.
    reference
        Optional clean image; PSNR and SSIM are then recorded in the history.
    stop
        The criterion that stops the run early (:func:`autodip.stopping.list_criteria`), or
        ``None`` to run ``iters`` steps; the result is then the estimate at the criterion's best
        step.
    monitor
        Further criteria to record on the same run (their candidate steps are reported).
    patience
        The candidate rule's ``S`` in steps; ``None`` uses each criterion's default.
    criterion_options
        Options per criterion name, e.g. ``{"osc": {"half_length": 200}}``.
    monitors, on_step
        Passed to :func:`autodip.runner.fit`.
    fit_options
        Further :class:`~autodip.runner.FitConfig` fields (``lr``, ``reg_noise_std``, ...).
    **net_options
        Overrides for the network builder (``width``, ``depth``, ...); ``None`` values are ignored.

    Returns
    -------
    Result
        ``result.pixels`` is the restored ``C×H×W`` array.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(0.5 + 0.1 * rng.standard_normal((3, 32, 32)), 0, 1).astype(np.float32)
    >>> result = denoise(noisy, iters=3, width=8, device="cpu")
    >>> result.pixels.shape
    (3, 32, 32)
    """
    y = as_image_tensor(image)
    ref = as_image_tensor(reference) if reference is not None else None
    architecture = None
    if net == "auto":
        net, net_options, architecture = _auto_architecture(y, net_options)
    network = create_net(net, out_channels=y.shape[1], **net_options)
    config = FitConfig(
        max_iters=iters, seed=seed, device=device, precision=precision, **(fit_options or {})
    )
    stopper = build_stopper(stop, monitor, patience, criterion_options)
    result = fit(
        y,
        network,
        Denoise(),
        config,
        reference=ref,
        monitors=monitors,
        on_step=on_step,
        stopper=stopper,
    )
    result.config["net"] = {
        "name": net,
        "options": {k: v for k, v in net_options.items() if v is not None},
        "parameters": count_parameters(network),
    }
    if architecture is not None:
        result.config["architecture"] = architecture
    return result


def _auto_architecture(
    y: torch.Tensor, net_options: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Resolve ``net="auto"``: the predicted hourglass, its options and the evidence."""
    from autodip.width_predictor import choose_architecture

    clash = sorted(k for k in ("width", "depth", "upsample") if net_options.get(k) is not None)
    if clash:
        raise ValueError(
            f"net='auto' chooses {', '.join(clash)} itself; pass net='hourglass' to set them"
        )
    architecture = choose_architecture(y[0].detach().float().cpu().numpy())
    return architecture["net"], {**net_options, **architecture["options"]}, architecture
