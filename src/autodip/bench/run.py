"""Run one benchmark job: load and degrade the image, fit (or apply a baseline), keep the histories.

A ``dip`` job is one ``--no-early-stop`` run that records, at every monitored step, the oracle PSNR
and SSIM against the clean image and every (objective-preserving) criterion's score, so that each
criterion's stop can be found afterwards for any patience ``S`` without running again. An ``osc``
job fits ``y + p`` and records OSC's curvature the same way (it never stops early: its patience is
set beyond the budget). A ``baseline`` job applies a classical method to the same measurement:
a denoiser with the true σ (real noise: the std of noisy − reference) and with the estimated σ,
an inpainter with the mask, or an upscaler with the factor (:mod:`autodip.bench.baselines`),
scored against the same reference as DIP. Real noise (``real``) is not synthesised: the job's
image is a noisy camera shot and its reference the mean of many shots.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from autodip.bench.calibrate import centre_crop
from autodip.bench.sweep import Job, noise_seed, parse_network, real_reference
from autodip.io import read_image
from autodip.metrics.full_reference import psnr, ssim
from autodip.physics.noise import add_gaussian_noise, add_poisson_noise
from autodip.physics.operators import Denoise, Inpaint, Operator, SuperResolve

if TYPE_CHECKING:  # pragma: no cover
    from autodip.core.result import Result

#: The input perturbation's draw of every sweep job: DIP's fresh draws, as every cached run was made
#: before the shifted draw became the default (``autodip.core.perturbation``); a sweep's cache does
#: not name the draw, so changing this would mix two random streams in one table.
SWEEP_DRAW = "fresh"


def load_clean(job: Job, root: str | Path | None = None) -> np.ndarray:
    """The job's clean image: read, made gray if asked (channel mean), centre-cropped.

    A relative ``job.image`` is read from ``root`` when given (default: the working folder). For
    real noise the clean image is the shot's reference (:func:`autodip.bench.sweep.real_reference`).
    """
    image = real_reference(job.image) if job.degradation.kind == "real" else job.image
    return _read(job, Path(root or "", image))


def _read(job: Job, path: Path) -> np.ndarray:
    pixels, _ = read_image(path)
    if job.gray and pixels.shape[0] > 1:
        pixels = pixels[:3].mean(axis=0, keepdims=True)
    return centre_crop(pixels, job.crop)


def degrade(
    clean: np.ndarray, job: Job, root: str | Path | None = None
) -> tuple[np.ndarray, Operator, np.ndarray]:
    """The measurement, its operator and the reference (the clean image, cropped for SR).

    Real noise is not synthesised: the measurement is the job's image itself, read from ``root``.
    """
    d, seed = job.degradation, noise_seed(job.image, job.degradation, job.seed)
    if d.kind == "real":
        noisy = _read(job, Path(root or "", job.image))
        if noisy.shape != clean.shape:
            raise ValueError(f"{job.image}: {noisy.shape} pixels, its reference {clean.shape}")
        return noisy, Denoise(), clean
    if d.kind == "gaussian":
        return add_gaussian_noise(clean, d.level, seed=seed), Denoise(), clean
    if d.kind == "poisson":
        return add_poisson_noise(clean, d.level, seed=seed), Denoise(), clean
    if d.kind == "sr":
        factor = int(d.level)
        hr = clean[:, : clean.shape[1] // factor * factor, : clean.shape[2] // factor * factor]
        operator = SuperResolve(factor)
        low = operator.A(torch.from_numpy(np.ascontiguousarray(hr))[None])[0].clamp(0, 1).numpy()
        return low, operator, np.ascontiguousarray(hr)
    if d.kind == "inpaint":
        if not 0 < d.level < 1:
            raise ValueError(f"inpaint level is the fraction of pixels dropped, got {d.level}")
        rng = np.random.default_rng(seed)
        mask = (rng.random(clean.shape[1:]) >= d.level).astype(np.float32)
        return clean * mask, Inpaint(mask), clean
    raise ValueError(f"unknown degradation {d.kind!r}")


def run_job(
    job: Job,
    root: str | Path | None = None,
    *,
    partial: Path | None = None,
    checkpoint_every: int = 0,
) -> dict[str, Any]:
    """Execute ``job``; return plain data (histories included) for the cache.

    ``root``: the folder a relative image path is read from (default: the working folder); a Ray
    worker, which runs wherever its cluster started, gets the working folder of the sweep's command.
    The result is the same either way: it names the image as the job does.

    ``partial``, ``checkpoint_every``: a DIP run saves its whole state to ``partial`` every
    ``checkpoint_every`` steps and, where that file exists, continues from it — to the same
    trajectory as an uninterrupted run on the same placement (:mod:`autodip.core.checkpoint`).
    A checkpoint the run cannot continue (another machine's precision, a damaged file) is
    replaced: the job starts afresh.
    """
    clean = load_clean(job, root)
    measured, operator, reference = degrade(clean, job, root)
    if job.kind == "baseline":
        return _run_baseline(job, measured, operator, reference)
    from autodip.analysis.noise_level import METHODS
    from autodip.api import restore
    from autodip.core.checkpoint import Checkpointing
    from autodip.stopping.fit_guard import measurement_sigma

    name, options = parse_network(job.network)
    own = job.kind != "dip"  # a criterion that changes the objective, in a run of its own

    def fit(resume: bool) -> Any:
        checkpoint = (
            Checkpointing(partial, every=checkpoint_every, resume=resume, estimates=False)
            if partial is not None and (checkpoint_every or resume)
            else None
        )
        return restore(
            measured,
            operator,
            net=name,
            iters=job.iters,
            seed=job.seed,
            device=job.device,
            precision=job.precision,
            reference=reference,
            stop=job.kind if own else None,
            monitor=() if own else job.criteria,
            patience=10 * job.iters if own else None,  # record the whole run; stops come later
            fit_options={"monitor_every": job.monitor_every, "reg_noise_draw": SWEEP_DRAW},
            checkpoint=checkpoint,
            ensemble=1,  # a sweep row is one run of one network
            **options,
        )

    result = fit_resuming(fit, partial)
    return {
        "job": _job_data(job),
        "measured_psnr": psnr(measured, reference) if measured.shape == reference.shape else None,
        # σ̂ as the runner's fit guard reads it (the known values of an inpainting mask too)
        "sigma_hat": measurement_sigma(torch.from_numpy(measured)[None], operator),
        "sigma_method": METHODS[0],  # the estimator behind sigma_hat and CIFS's λ
        **({"noise_std": noise_std(measured, reference)} if job.degradation.kind == "real" else {}),
        "history": [
            {k: h[k] for k in ("step", "psnr", "ssim", "loss", "residual") if k in h}
            for h in result.history
        ],
        "criteria": {
            name: {
                "steps": c["steps"],
                "scores": c["scores"],
                "lower_is_better": c["lower_is_better"],
                "default_patience": _default_patience(name),
                "seconds": c["seconds"],
                **({"trace": c["trace"]} if "trace" in c else {}),
            }
            for name, c in result.criteria.items()
        },
        "seconds": result.seconds,
        # a run continued from its checkpoint: its seconds sum the sessions' steps (not the
        # steps redone after the last checkpoint), possibly on different machines
        **(
            {"resumed_from_step": result.config["resumed_from_step"]}
            if "resumed_from_step" in result.config
            else {}
        ),
        "iterations": result.iterations,
        "placement": result.config["placement"],
        "parameters": result.config["net"]["parameters"],
    }


def _default_patience(name: str) -> int:
    from autodip.stopping import create_criterion

    return int(create_criterion(name).default_patience)


def _run_baseline(
    job: Job, measured: np.ndarray, operator: Operator, reference: np.ndarray
) -> dict[str, Any]:
    """A denoiser's record has a ``true`` (Gaussian noise) and an ``estimated`` σ entry; an
    inpainter's or upscaler's one ``result`` entry. Each holds PSNR, SSIM and seconds.
    """
    from autodip.bench.baselines import inpaint_baseline, upscale_baseline

    if isinstance(operator, Inpaint | SuperResolve):
        started = time.perf_counter()
        if isinstance(operator, Inpaint):
            estimate, _ = inpaint_baseline(job.baseline, measured, operator.mask[0].numpy())
        else:
            estimate, _ = upscale_baseline(job.baseline, measured, operator.factor)
        seconds = time.perf_counter() - started
        same_size = measured.shape == reference.shape
        result = {"psnr": psnr(estimate, reference), "ssim": ssim(estimate, reference)}
        return {
            "job": _job_data(job),
            "measured_psnr": psnr(measured, reference) if same_size else None,
            "result": {**result, "seconds": seconds},
        }
    return _run_denoiser(job, measured, reference)


def _run_denoiser(job: Job, noisy: np.ndarray, clean: np.ndarray) -> dict[str, Any]:
    from autodip.bench.baselines import denoise_baseline

    record: dict[str, Any] = {"job": _job_data(job), "measured_psnr": psnr(noisy, clean)}
    sigmas: dict[str, float | None] = {"estimated": None}
    if job.degradation.kind == "gaussian":
        sigmas = {"true": job.degradation.level, **sigmas}
    if job.degradation.kind == "real":  # "true": the std of noisy − reference, an oracle's σ
        record["noise_std"] = noise_std(noisy, clean)
        sigmas = {"true": record["noise_std"], **sigmas}
    for which, sigma in sigmas.items():
        started = time.perf_counter()
        denoised, used, _ = denoise_baseline(job.baseline, noisy, sigma)
        record[which] = {
            "sigma": used,
            "psnr": psnr(denoised, clean),
            "ssim": ssim(denoised, clean),
            "seconds": time.perf_counter() - started,
        }
    return record


def noise_std(noisy: np.ndarray, reference: np.ndarray) -> float:
    """The std of ``noisy − reference`` on the 0–255 scale: real noise's level, against which σ̂
    can be judged (it also holds the reference's own small error: a mean of finitely many shots).
    """
    return float(np.std(noisy.astype(np.float64) - reference) * 255.0)


def fit_resuming(
    fit: Callable[[bool], Result], partial: Path | None, log: Callable[[str], None] | None = None
) -> Result:
    """``fit(resume)``, continuing the checkpoint ``partial`` where that file exists.

    A checkpoint the run cannot continue (another placement's, a damaged file, a state that no
    longer loads) is deleted and the run starts afresh, saying so to ``log`` if given. A run ended
    by Ctrl-C raises :class:`KeyboardInterrupt` rather than return its unfinished estimate as a
    finished run; its checkpoint stays for the next attempt.
    """
    resume = partial is not None and partial.is_file()
    try:
        result = fit(resume)
    except Exception as error:  # CheckpointError (another placement), a state that no longer loads
        if not resume:
            raise
        assert partial is not None  # resume implies a partial file
        if log is not None:
            log(f"{partial}: cannot resume ({error}); starting afresh")
        partial.unlink(missing_ok=True)
        result = fit(False)
    if result.interrupted:
        raise KeyboardInterrupt
    return result


def _job_data(job: Job) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "image": Path(job.image).name,
        "path": job.image,
        "degradation": job.degradation.label,
        "kind_of_degradation": job.degradation.kind,
        "level": job.degradation.level,
        "seed": job.seed,
        "network": job.network,
        "baseline": job.baseline,
        "iters": job.iters,
        "crop": job.crop,
        "gray": job.gray,
        "key": job.key,
    }
