"""The same runs on every device this machine has: the CPU always, a CUDA GPU where one is visible.

CI has no GPU, so there these run on the CPU only (which keeps the tests themselves honest); on a
GPU machine (``benchmarks/gpu_session.sh``) every test also runs with ``device="cuda"``: the
paths that move tensors between devices — the operators' masks and kernels, the JPEG size CIFS
encodes on the host, the divergence snapshots, checkpoints, batched members, window training, the
ensemble's transforms and the CLI — are the ones a CPU-only suite cannot reach.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import autodip
from autodip.cli import main as cli_main
from autodip.core.checkpoint import Checkpointing
from autodip.core.config import FitConfig
from autodip.core.members import fit_members
from autodip.core.run import fit
from autodip.errors import CheckpointError
from autodip.metrics.full_reference import psnr
from autodip.nets import create_net
from autodip.physics.noise import add_gaussian_noise
from autodip.stopping import Stopper, create_criterion

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FAST = {"iters": 40, "width": 8, "seed": 0}


@pytest.fixture(params=DEVICES)
def device(request):
    """The device; on CUDA with TF32 off, so that "fp32" runs are float32 there too."""
    if request.param == "cpu":
        yield "cpu"
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield request.param
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _same_run(device: str, a: torch.Tensor, b: torch.Tensor, other_seed: torch.Tensor) -> bool:
    """Whether ``a`` and ``b`` are the same run: bit for bit on the CPU; on a GPU, whose cuDNN and
    bilinear-upsampling gradients are not deterministic, far closer to each other than to the run
    with another seed (so a seed that did not reach the device would fail)."""
    if device == "cpu":
        return torch.equal(a, b)
    return float((a - b).abs().max()) < 0.1 * float((a - other_seed).abs().max())


def _clean(size: int = 32) -> np.ndarray:
    """A smooth colour image: DIP fits it well within a few hundred steps."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    return np.stack([0.5 + 0.3 * np.sin(3 * xx), 0.5 + 0.3 * np.cos(2 * yy), 0.4 + 0.4 * xx * yy])


def _noisy(size: int = 32) -> np.ndarray:
    return add_gaussian_noise(_clean(size).astype(np.float32), 25, seed=0)


def test_denoising_improves_on_the_input_and_says_where_it_ran(device):
    noisy = _noisy()
    result = autodip.denoise(
        noisy, iters=300, width=16, device=device, reference=_clean(), ensemble=1
    )
    assert result.config["placement"]["device"].startswith(device)
    assert result.image.device.type == "cpu"  # results come back to the host
    assert np.isfinite(result.pixels).all() and result.pixels.shape == noisy.shape
    assert psnr(result.pixels, _clean()) > psnr(noisy, _clean()) + 3
    assert result.stop_step is not None and result.criteria["cifs"]["scores"]


def test_inpainting_and_super_resolution_move_their_operators(device):
    clean = _clean().astype(np.float32)
    mask = np.ones(clean.shape[1:], np.float32)
    mask[8:16, 8:16] = 0
    filled = autodip.inpaint(clean * mask, mask, device=device, **FAST)
    assert filled.pixels.shape == clean.shape and np.isfinite(filled.pixels).all()
    assert filled.config["placement"]["device"].startswith(device)
    upscaled = autodip.super_resolve(clean[:, ::2, ::2], 2, device=device, **FAST)
    assert upscaled.pixels.shape == clean.shape and np.isfinite(upscaled.pixels).all()


def test_a_run_is_reproducible_on_its_device(device):
    def run(seed: int) -> torch.Tensor:
        options = {**FAST, "seed": seed}
        return autodip.denoise(_noisy(), device=device, precision="fp32", **options).image

    assert _same_run(device, run(0), run(0), run(1))


def test_a_checkpoint_resumes_on_its_device_and_is_refused_on_another(device, tmp_path):
    """The perturbations' random stream is the device's, so a run resumes where it was written
    (as the uninterrupted run) and another device is refused, saying why."""
    path = tmp_path / "run.ckpt"
    y = torch.from_numpy(_noisy()).unsqueeze(0)

    def config(where: str) -> FitConfig:
        return FitConfig(device=where, max_iters=40, monitor_every=5, precision="fp32")

    def kill_at_25(report):
        if report.step == 25:
            raise KeyboardInterrupt

    whole = fit(y, create_net("hourglass", width=8), config=config(device))
    other = fit(y, create_net("hourglass", width=8), config=replace(config(device), seed=1))
    killed = fit(y, create_net("hourglass", width=8), config=config(device),
                 monitors=[kill_at_25], checkpoint=Checkpointing(path, every=10))  # fmt: skip
    assert killed.interrupted and path.exists()
    resumed = fit(y, create_net("hourglass", width=8), config=config(device),
                  checkpoint=Checkpointing(path, every=10, resume=True))  # fmt: skip
    assert resumed.config["resumed_from_step"] == 20 and resumed.iterations == 40
    assert _same_run(device, resumed.image, whole.image, other.image)
    if device != "cpu":
        with pytest.raises(CheckpointError, match="device"):
            fit(y, create_net("hourglass", width=8), config=config("cpu"),
                checkpoint=Checkpointing(path, resume=True))  # fmt: skip


def test_batched_members_are_their_solo_runs_on_the_device(device):
    y = torch.from_numpy(_noisy(16)).unsqueeze(0)
    seeds = [3, 11]

    def config(seed: int) -> FitConfig:
        return FitConfig(device=device, max_iters=30, monitor_every=5, precision="fp32", seed=seed)

    def stopper() -> Stopper:
        return Stopper(create_criterion("wmv", window=10), patience=10)

    members = fit_members(y, [create_net("hourglass", width=8) for _ in seeds], config=config(0),
                          seeds=seeds, stoppers=[stopper() for _ in seeds])  # fmt: skip
    solos = [
        fit(y, create_net("hourglass", width=8), config=config(seed), stopper=stopper())
        for seed in seeds
    ]
    for member, solo, other in zip(members, solos, solos[::-1], strict=True):
        # grouped convolutions sum in another order: far closer to the solo run than to the
        # other seed's, not bit for bit
        gap = float((member.image - solo.image).abs().max())
        assert gap < 0.1 * float((member.image - other.image).abs().max())


def test_window_training_and_the_ensemble_run_on_the_device(device):
    noisy = _noisy(80)
    windowed = autodip.denoise(noisy, device=device, fit_options={"window": 32}, **FAST)
    assert windowed.config["window_margin"] is not None and np.isfinite(windowed.pixels).all()
    mean = autodip.denoise(_noisy(), device=device, ensemble=2,
                           ensemble_transforms="dihedral", **FAST)  # fmt: skip
    assert mean.pixels.shape == (3, 32, 32) and mean.uncertainty is not None


def test_an_ensemble_is_batched_by_default_on_a_gpu_only(device):
    """On a GPU the members run as one batched computation (a batched step costs well under K
    solo steps there), each as its one-by-one run; on the CPU one after another."""
    options = {"device": device, "ensemble": 2, "precision": "fp32", **FAST}
    batched = autodip.denoise(_noisy(), **options)
    assert batched.ensemble["batched"] is (device == "cuda")
    one_by_one = autodip.denoise(_noisy(), batch_members=False, **options)
    first, second = batched.members
    for member, alone, other in zip(batched.members, one_by_one.members, [second, first],
                                    strict=True):  # fmt: skip
        assert (member.iterations, member.reason) == (alone.iterations, alone.reason)
        gap = float(np.abs(member.pixels - alone.pixels).max())
        assert gap < 0.1 * float(np.abs(member.pixels - other.pixels).max())


def test_the_cli_restores_on_the_device(device, tmp_path, capsys):
    from PIL import Image

    source, out = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray((_noisy().transpose(1, 2, 0) * 255).round().astype(np.uint8)).save(source)
    argv = ["denoise", str(source), "-o", str(out), "--iters", "30", "--width", "8"]
    code = cli_main([*argv, "--device", device, "--quiet", "--report", str(tmp_path / "report")])
    assert code == 0 and out.exists(), capsys.readouterr().err
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["config"]["placement"]["device"].startswith(device)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_on_a_cpu_that_does_it_natively(monkeypatch, native):
    """On a GPU bf16 autocast was slower than float32 and lost PSNR (gpu/speed-cuda.md)."""
    from autodip.core import hardware

    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
    assert hardware.resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert hardware.resolve_precision("auto", "cuda") == "fp32"
    assert hardware.resolve_precision("auto", "cuda:1") == "fp32"
    assert hardware.resolve_precision("bf16", "cuda") == "bf16"  # asked for, it is kept
    assert hardware.resolve_precision("fp32", "cpu") == "fp32"
