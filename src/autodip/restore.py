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

#: Defaults of ``autodip denoise``: the 2-level, width-64 hourglass of seed 003 (about 4× fewer
#: FLOPs than ``dip-skip`` at equal quality in that paper's Table 2) and an iteration budget chosen
#: on the bundled sample (see ``benchmarks/results/defaults.md``).
DEFAULT_NET = "hourglass"
DEFAULT_ITERS = 1000


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
        image's.
    iters, seed, device, precision
        See :class:`autodip.runner.FitConfig`.
    reference
        Optional clean image; PSNR and SSIM are then recorded in the history.
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
    network = create_net(net, out_channels=y.shape[1], **net_options)
    config = FitConfig(
        max_iters=iters, seed=seed, device=device, precision=precision, **(fit_options or {})
    )
    result = fit(y, network, Denoise(), config, reference=ref, monitors=monitors, on_step=on_step)
    result.config["net"] = {
        "name": net,
        "options": {k: v for k, v in net_options.items() if v is not None},
        "parameters": count_parameters(network),
    }
    return result
