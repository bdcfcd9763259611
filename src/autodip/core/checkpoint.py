"""Checkpoints: save a run's whole state now and then, and resume it after a crash or a kill.

A checkpoint holds everything the next step depends on — the network's parameters, Adam's state and
learning rate, the code ``z`` (re-drawn from the seed and checked), the moving average, the random
stream of the input perturbations, the stopping criteria with their windows and scores, the history,
the last good state kept for divergence recovery, and the stage-2 target of a two-stage run — so
that a resumed run ends with the same result as an uninterrupted run with the same seed (on the
same device; ``tests/test_checkpoint.py`` checks this bit for bit on the CPU).

The file is written atomically (a temporary file, then a rename), so a kill during the write leaves
the previous checkpoint intact. It is a :func:`torch.save` pickle: resume only checkpoints you
wrote yourself.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from autodip.errors import CheckpointError as CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    from autodip.core.run import Run
    from autodip.physics.operators import Operator

FORMAT_VERSION = 2
#: Settings a resumed run may change: the budget, to extend a run (not a two-stage one: its stage
#: boundary depends on the budget). The device may not change: the random stream is the device's.
MAY_DIFFER = frozenset({"max_iters", "max_extended_iters", "max_seconds"})


@dataclass(frozen=True)
class Checkpointing:
    """Where to keep the checkpoint, how often to write it, and whether to resume from it.

    Attributes
    ----------
    path
        The checkpoint file.
    every
        Save after every ``every`` steps (0: never save; resuming still works).
    resume
        Continue from ``path`` instead of starting afresh (:class:`CheckpointError` if it is
        missing or belongs to a different run).
    estimates
        Keep the estimates a lagging criterion (OSC) holds back to return the image of a stop
        it scores late: 35 images at OSC's defaults, 28 MB at 256². Without them the resumed
        trajectory and every score are the same, but a stop that falls within that lag before
        the checkpoint returns a later estimate: for sweeps, which keep the trajectories only.
    """

    path: Path
    every: int = 0
    resume: bool = False
    estimates: bool = True

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ValueError(f"checkpoint every must be ≥ 0 steps, got {self.every}")

    def due(self, step: int, max_iters: int) -> bool:
        """Whether to save after ``step`` (never after the last step: the run is then done)."""
        return self.every > 0 and step % self.every == 0 and step < max_iters

    def save(self, run: Run) -> None:
        """Write ``run``'s state atomically: a header that identifies the run, then
        :meth:`~autodip.core.run.Run.state_dict`.
        """
        from autodip.io.atomic import replace_atomically

        payload = {
            "version": FORMAT_VERSION,
            "data": data_fingerprint(run.y, run.operator),
            "config": asdict(run.cfg),
            "operator": run.operator.describe(),
            "net_class": type(run.net).__name__,
            "placement": asdict(run.where),
            **run.state_dict(self.estimates),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(self.path, buffer.getvalue(), overwrite=True)

    def load(self, run: Run) -> dict[str, Any] | None:
        """The saved state to resume ``run`` from (``None`` unless resuming), checked against it:
        the same settings, operator (mask included), network, input image and criteria.
        """
        if not self.resume:
            return None
        saved = self._read()
        different = _differences(saved, run)
        if different:
            raise CheckpointError(
                f"checkpoint '{self.path}' belongs to a different run (it differs in "
                f"{', '.join(different)}); start afresh or use the same settings"
            )
        # an adaptive budget may have gone past max_iters: its cap is the limit
        config = run.cfg
        budget = max(config.max_iters, config.max_extended_iters or 0)
        if saved["step"] >= budget:
            raise CheckpointError(
                f"checkpoint '{self.path}' is at step {saved['step']}, at or past the budget of "
                f"{budget} steps; raise the budget to continue it"
            )
        return saved

    def _read(self) -> dict[str, Any]:
        if not self.path.is_file():
            raise CheckpointError(f"no checkpoint to resume from at '{self.path}'")
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as error:
            raise CheckpointError(f"cannot read checkpoint '{self.path}': {error}") from None
        if not isinstance(saved, dict) or saved.get("version") != FORMAT_VERSION:
            raise CheckpointError(
                f"'{self.path}' is not an autodip checkpoint of this version ({FORMAT_VERSION})"
            )
        return saved


def _differences(saved: dict[str, Any], run: Run) -> list[str]:
    """What of ``run`` differs from the run that saved ``saved`` (empty: the same run)."""
    config, operator, net, stopper = run.cfg, run.operator, run.net, run.stopper
    mine = asdict(config)
    # checkpoints from before the draw was a setting drew fresh noise at every step
    theirs = {"reg_noise_draw": "fresh", **saved["config"]}
    different = sorted(
        key
        for key in set(mine) | set(theirs)
        if key not in MAY_DIFFER and mine.get(key) != theirs.get(key)
    )
    if config.two_stage is not None and saved["config"]["max_iters"] != config.max_iters:
        different.append("max_iters (a two-stage run's boundary depends on it)")
    if saved["operator"] != operator.describe():
        different.append("operator")
    if saved["data"] != data_fingerprint(run.y, operator):
        different.append("input image or mask")
    mine_criteria = stopper.identity() if stopper is not None else None
    saved_criteria = saved["stopper"]["_identity"] if saved["stopper"] is not None else None
    if mine_criteria != saved_criteria:
        different.append("stopping criteria")
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    saved_shapes = {k: tuple(v.shape) for k, v in saved["net"].items()}
    if saved["net_class"] != type(net).__name__ or saved_shapes != shapes:
        different.append("network")
    # "auto" settings resolve per machine: float32 on one, bf16 on another would mix arithmetics
    # (checkpoints written before the placement was saved are not checked)
    if "placement" in saved and saved["placement"] != asdict(run.where):
        different.append("placement (the resolved device, precision or memory layout)")
    return different


def data_fingerprint(y: torch.Tensor, operator: Operator) -> str:
    """A hash of the measurement and, for inpainting, the mask: what the run is fitted to."""
    digest = hashlib.sha256(y.detach().float().cpu().contiguous().numpy().tobytes())
    mask = getattr(operator, "mask", None)
    if mask is not None:
        digest.update(mask.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
