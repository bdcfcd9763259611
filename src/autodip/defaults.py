"""Every default of autodip in one place, each with the evidence it stands on.

The library (:func:`autodip.api.restore`, :class:`autodip.core.run.FitConfig`, the fit guard),
the command line's options and their ``--help``, CIFS calibration and the benchmark sweeps read
their defaults from here; the old names (``autodip.api.DEFAULT_ITERS``,
``autodip.stopping.fit_guard.GUARD_RATIO``, …) are aliases of these. Importing this module is
cheap: no PyTorch, no NumPy.

Two sets of optimisation defaults coexist on purpose:

- **the tasks** (:data:`TASK_DEFAULTS`, what ``denoise``/``inpaint``/``sr`` and the command line
  run): chosen by autodip's own benchmarks — denoising averages :data:`DENOISE_ENSEMBLE` runs of
  a hourglass (width by size and σ̂) with a 1500-step adaptive budget, each stopped by CIFS
  (``benchmarks/results/dev-cpu/report.md``, ``benchmarks/results/ensemble_default.md``);
- **the runner** (:class:`autodip.core.run.FitConfig`, for researchers who assemble their own run):
  the original DIP code's denoising settings (Ulyanov, Vedaldi and Lempitsky, *Deep Image Prior*,
  CVPR 2018: 3000 steps, Adam lr 0.01, input perturbation 1/30, output average 0.99), so that a
  bare ``fit`` reproduces the paper. :data:`FIT_MAX_ITERS` (3000) therefore differs from
  :data:`DENOISE_ITERS` (1500): the first is the paper's fixed budget without early stopping, the
  second a budget that a stopping criterion and the adaptive extension work within.

Examples
--------
>>> from autodip import defaults
>>> defaults.TASK_DEFAULTS["denoise"].iters, defaults.FIT_MAX_ITERS
(1500, 3000)
"""

from __future__ import annotations

from dataclasses import dataclass

# --- the network -------------------------------------------------------------------------------

#: The network of every task: the 2-level hourglass of Liu, Li, Pang, Nie and Yap, *The Devil is
#: in the Upsampling* (about 4× fewer FLOPs than ``dip-skip`` at equal quality in its Table 2).
DEFAULT_NET = "hourglass"
#: Its width for inpainting and super-resolution (that paper's recipe), and in
#: ``create_net("hourglass")``.
DEFAULT_WIDTH = 64
#: Its width for denoising: of the network × criterion × patience × budget combinations within
#: 0.1 dB of the best mean PSNR at the stop (6 images × σ = 15/25/50, 128² crops), width 32 with
#: CIFS, patience 300 and 1500 steps gains the most dB per second — 28.02 dB in 33.9 s on average,
#: against 27.75 dB in 72.0 s for hourglass-64 / S = 500 / 1000 steps
#: (``benchmarks/results/dev-cpu/report.md``, rule in :mod:`autodip.bench.choose`).
DENOISE_WIDTH = 32
#: Denoising's width for larger images. At 256² the width-32 hourglass fits a textured image far
#: too slowly (still rising at 4500 steps; at its peak 4.2 / 2.1 / 1.0 dB under CBM3D (σ̂) at
#: σ = 15 / 25 / 50 on the 12 development crops, ``benchmarks/results/guard-w32.md``): with the
#: shipped stopping policy width 64 is 2.6 / 0.9 dB higher at σ = 15 / 25 and 0.05 dB lower at
#: σ = 50, for 1.5–2.2× the seconds (``benchmarks/results/choose256.md``, 36 (image, σ) pairs),
#: and on the hardest crop width 64 gains 3.6 dB at equal steps
#: (``benchmarks/results/lr_probe.md``). Heavy noise keeps width 32
#: (:data:`DENOISE_NARROW_FROM_SIGMA`).
DENOISE_WIDE_WIDTH = 64
#: The pixel count from which :data:`DENOISE_WIDE_WIDTH` is used. The evidence brackets it: at 256²
#: width 64 (above); at 192² (the demo's F16 crop, σ = 25) width 32 — width 64 peaks earlier
#: (30.51 dB at step 940) and CIFS, not confirmed, returns step 1440 at 29.39 dB, against 30.62
#: dB with width 32 (both with the wavelet σ̂ then in use; ``benchmarks/results/demo.md``); at 128²
#: width 32
#: (``dev-cpu/report.md``). The switch sits halfway between 192² and 256² on a log scale:
#: 3 · 128² = 49 152 pixels (≈ 222²).
DENOISE_WIDE_PIXELS = 3 * 128 * 128
#: The noise level σ̂ (0–255 scale, :func:`autodip.analysis.noise_level.estimate_sigma`) from which
#: denoising keeps :data:`DENOISE_WIDTH` however large the image. Heavy noise leaves little
#: texture to recover, and the narrow network fits what there is: at 256² with the shipped
#: stopping policy width 32 is level with width 64 at σ = 50 (0.05 dB higher) in 0.61× the seconds,
#: while width 64 gains 0.87 dB at σ = 25 (``benchmarks/results/choose256.md``, shipped-policy
#: table, 12 crops per σ). The evidence brackets the switch between σ = 25 (σ̂ ≈ 24.4) and σ = 50
#: (σ̂ ≈ 45.7, the patch-PCA rule reading the clipped noise; ``sigma_estimator.md``); it sits
#: between them at σ̂ = 35. Levels in between were not swept.
DENOISE_NARROW_FROM_SIGMA = 35.0

# --- denoising (benchmarks/results/dev-cpu/report.md) -------------------------------------------

#: Denoising's step budget (the same development sweep as :data:`DENOISE_WIDTH`).
DENOISE_ITERS = 1500
#: The candidate rule's patience ``S`` for :data:`DENOISE_STOP` (same sweep). At 256² it stays:
#: replayed on the 36 default runs of the 256² sweep, S = 300 / 450 / 600 / 900 return 31.66 /
#: 31.71 / 31.72 / 31.66 dB at σ = 15, 28.82 / 28.83 / 28.77 / 28.56 at σ = 25 and 24.88 / 24.88 /
#: 24.87 / 24.86 at σ = 50 (``benchmarks/results/patience_replay.md``): 300 is within 0.1 dB of
#: the best at each σ and the cheapest.
DENOISE_PATIENCE = 300
#: Denoising's patience on estimates of at least :data:`DENOISE_LONG_CAP_PIXELS` pixels. On whole
#: CBSD68 images (481×321, σ = 25) every default run's PSNR dips by a few tenths of a dB for a few
#: hundred steps and climbs again, and S = 300 takes some dips for the peak: replayed on the
#: recorded runs (``patience_replay.md``), S = 300 / 450 / 600 / 900 return 26.96 / 27.07 / 27.07
#: / 27.07 dB on the 12 runs recorded to 9000 steps (5508 / 6073 / 6189 / 6414 mean steps) and
#: 29.12 / 29.36 / 29.36 / 29.36 dB on the 4 development images; the rule picks 450. The line is
#: the cap's (only 256² and 481×321 were measured).
DENOISE_LONG_PATIENCE = 450
#: The criterion that stops ``denoise``; ``None`` would run all steps. CIFS with its calibrated
#: λ(σ̂) has the best mean PSNR at the stop of every criterion in the sweep, for both widths (EMV
#: next, 0.43 dB lower at width 32 and 0.49 dB at 64; ``dev-cpu/report.md``).
DENOISE_STOP: str | None = "cifs"
#: A second criterion whose confirmed stop also ends a denoising run (where the guard can judge,
#: σ̂ ≥ :data:`GUARD_MIN_SIGMA`): the discrepancy principle, which confirms once the residual has
#: passed σ̂² and the run returns CIFS's best so far. Replayed on the 36 default runs of the 256²
#: sweep it confirms 36 stops where CIFS alone confirms 7, ends runs earlier (mean halt 2905 /
#: 1822 / 2115 steps against 2959 / 1875 / 2353 at σ = 15 / 25 / 50) and changes the mean PSNR by
#: 0.00 / −0.05 / +0.01 dB (``benchmarks/results/guard.md``, "Confirmed by CIFS or by the
#: discrepancy principle"). The adaptive budget then goes on while neither has confirmed,
#: whatever the residual.
DENOISE_ALSO_CONFIRM: str | None = "discrepancy"
#: The per-step perturbation of the network input for denoising (DIP's σ = 25 setting).
DENOISE_REG_NOISE_STD = 1.0 / 30.0
#: The criterion for images whose channel count JPEG cannot hold (multispectral), where CIFS cannot
#: run: the exponential variance, the best of the remaining criteria in
#: ``benchmarks/results/stopping.md``.
MULTICHANNEL_STOP = "emv"
#: The adaptive budget's cap, as a multiple of the task's budget: a run given no ``iters`` goes on
#: past the budget while its estimate is under-fitted (:mod:`autodip.stopping.fit_guard`), up to
#: this many
#: times the budget (``benchmarks/results/guard.md`` replays it on the 256² development runs).
ADAPTIVE_CAP = 3
#: Denoising's cap on estimates of at least :data:`DENOISE_LONG_CAP_PIXELS` pixels (7500 steps).
#: On whole CBSD68 images (481×321) 12 of the 34 default runs reached the 4500-step cap
#: unconfirmed with their peak at it; recorded to 9000 steps and replayed
#: (``benchmarks/results/budget_cap.md``), caps 4500 / 6000 / 7500 / 9000 return 26.79 / 26.90 /
#: 26.96 / 26.97 dB on those 12, leave 3 / 3 / 1 / 1 of them more than 2 dB under CBM3D (σ̂), and
#: the project's rule with issue 14's floor picks 7500 (on all 34 images: 29.00 → 29.06 dB). At
#: 256² every default run confirms its stop before 4500 steps (``guard.md``: 36 of 36), so a cap
#: there changes nothing measured; only 256² and 481×321 were measured, and the line is drawn
#: between them.
DENOISE_LONG_CAP = 5
DENOISE_LONG_CAP_PIXELS = 2 * 256 * 256

#: The widest network the command line builds (``dip-skip`` at 1024 channels: 100 M parameters);
#: wider ones would be allocated before the memory check could refuse them.
MAX_WIDTH = 1024

#: From this many pixels a whole-image run is called slow to fit, and ``--tile`` suggested. On a
#: 1024² image (a mosaic of four 512² photographs, σ = 25, the width-64 hourglass) a step cost
#: 17.6× a 256² one on a 2-core CPU, and after 400 steps and 23 minutes the estimate was still
#: below its noisy input; 256² windows fitted worse in the same time
#: (``benchmarks/results/windows-1024.md``). A 512² photograph (F16) progressed per step as at
#: 256² (30.8 dB by step 1500 in both, at 7× the cost per step: ``windows-1500.md``), so the
#: line is drawn between them; only 1024² was measured.
LARGE_IMAGE_PIXELS = 768 * 768
#: From this many pixels the command line denoises in tiles of
#: :data:`AUTO_TILE` pixels unless told otherwise (``--tile``, ``--no-tile``). On the 1024² mosaic
#: at σ = 25, 25 tiles of 256² (280 steps each, 798 s in all) reached 23.61 dB, where the whole
#: image was at 17.26 dB after the same seconds (19.32 dB after 1357 s, still below its noisy
#: input) and 256² windows at 16.70 dB after 1363 s (``benchmarks/results/windows-1024.md``).
#: Only 1024² was measured, so the line is drawn there; between 768² and it ``--tile`` is only
#: suggested.
AUTO_TILE_PIXELS = 1024 * 1024
#: The tile side of automatic tiling: the size the defaults were chosen at.
AUTO_TILE = 256

# --- ensembles (autodip.core.ensemble; docs/benchmarks.md, "Ensembles against CBM3D") ----------

#: Members of an ensemble where no default applies (inpainting and super-resolution: their
#: ensembles were not measured): 1, a plain run.
ENSEMBLE = 1
#: Members of the default denoising ensemble, chosen by the project's rule (the most dB gained per
#: second among the K within 0.1 dB of the best mean PSNR at the stop) on the width-64 members of
#: the four 256² development crops at σ 15, 25 and 50 pooled
#: (``benchmarks/results/ensemble_default.md``, from ``benchmarks/ensemble_default.py``). The
#: members run one after another: K members take K times as long as one run.
DENOISE_ENSEMBLE = 4
#: What besides the seed tells the members apart: ``none``, or ``dihedral`` (flips and rotations).
ENSEMBLE_TRANSFORMS = "none"
#: The most members an ensemble may have (each is a whole run).
MAX_ENSEMBLE = 64

# --- inpainting and super-resolution (the original DIP paper; benchmarks/results/tasks.md) ------

#: DIP's inpainting: 3000 steps, input perturbation 0.03, no early stopping. ``tasks.md`` shows
#: why not OSC: without noise these runs do not overfit within the budget (the peak is at the last
#: step on all 3 inpainting images), while OSC's pseudo-noise lowers its own run's PSNR and it stops
#: at steps 360–600, on average 3.4 dB below the fixed budget.
INPAINT_ITERS = 3000
INPAINT_REG_NOISE_STD = 0.03
#: DIP's ×4 super-resolution: 2000 steps, perturbation 0.03 (×8: 4000 steps and
#: :data:`SR8_REG_NOISE_STD`, :func:`autodip.physics.operators.published_iterations`).
#: ``tasks.md``: the
#: peak is at steps 1810–2000 of 2000 on the 5 Set5 crops; OSC would lose 3.0 dB on average.
SR_ITERS = 2000
SR_REG_NOISE_STD = 0.03
#: DIP's input perturbation for ×8 super-resolution.
SR8_REG_NOISE_STD = 0.05


@dataclass(frozen=True)
class TaskDefaults:
    """Defaults of one task: iteration budget, stopping criterion and the input perturbation."""

    iters: int
    stop: str | None
    reg_noise_std: float
    why: str
    #: The candidate rule's ``S`` for the default ``stop``; ``None`` keeps the criterion's own.
    patience: int | None = None
    #: A criterion whose confirmation also stops a run of the default ``stop`` (same ``S``).
    also_confirm: str | None = None
    #: The width of :data:`DEFAULT_NET` when no width is named (the CLI: also for ``--net
    #: hourglass``).
    width: int = DEFAULT_WIDTH
    #: A larger width for estimates of at least ``wide_pixels`` pixels (``None``: one width).
    wide_width: int | None = None
    wide_pixels: int = 0
    #: The noise level σ̂ (0–255) from which ``width`` is kept at any size (``None``: never).
    narrow_from_sigma: float | None = None
    #: Members of the default ensemble (:mod:`autodip.core.ensemble`): ``1`` is one plain run.
    #: Tiled and windowed runs are always single runs (the ensembles were measured whole).
    ensemble: int = 1
    #: Whether a large image is restored in tiles unasked (:meth:`tile_for`).
    auto_tile: bool = False
    #: A larger cap of the adaptive budget for estimates of at least ``long_cap_pixels`` pixels
    #: (``None``: :data:`ADAPTIVE_CAP` at any size; :meth:`cap_for`).
    long_cap: int | None = None
    long_cap_pixels: int = 0
    #: A larger patience for :attr:`stop` on estimates of at least :attr:`long_cap_pixels` pixels
    #: (``None``: :attr:`patience` at any size; :meth:`patience_for`).
    long_patience: int | None = None

    def needs_sigma(self, height: int, width: int) -> bool:
        """Whether :meth:`width_for` depends on the noise level for this size."""
        wide = self.wide_width is not None and height * width >= self.wide_pixels
        return wide and self.narrow_from_sigma is not None

    def width_for(self, height: int, width: int, sigma: float | None = None) -> int:
        """The default width for an estimate of ``height × width`` pixels whose measurement has
        noise level ``sigma`` (0–255; ``None``: not known).

        Examples
        --------
        >>> denoise = TASK_DEFAULTS["denoise"]
        >>> denoise.width_for(192, 192), denoise.width_for(256, 256)
        (32, 64)
        >>> denoise.width_for(256, 256, sigma=25.0), denoise.width_for(256, 256, sigma=46.0)
        (64, 32)
        >>> TASK_DEFAULTS["inpaint"].width_for(16, 16)
        64
        """
        if self.wide_width is None or height * width < self.wide_pixels:
            return self.width
        limit = self.narrow_from_sigma
        if limit is not None and sigma is not None and sigma >= limit:
            return self.width
        return self.wide_width

    def ensemble_for(self, tile: int | None = None, window: int | None = None) -> int:
        """The members of a run that names none: :attr:`ensemble`, or one run for a tiled
        (``tile``) or windowed (``window``) one. The ensembles were measured on whole-image runs;
        tiles and windows are asked for to make a large image affordable, and ``K`` members would
        cost ``K`` times that.

        Examples
        --------
        >>> denoise = TASK_DEFAULTS["denoise"]
        >>> denoise.ensemble_for() == DENOISE_ENSEMBLE, denoise.ensemble_for(tile=256)
        (True, 1)
        >>> TASK_DEFAULTS["sr"].ensemble_for()
        1
        """
        if tile is not None or window is not None:
            return ENSEMBLE
        return self.ensemble

    def tile_for(self, height: int, width: int) -> int | None:
        """The tile side a ``height × width`` image is restored in unasked: :data:`AUTO_TILE`
        from :data:`AUTO_TILE_PIXELS` pixels for a task that tiles (denoising: the only one
        measured; a hole larger than a tile would leave an inpainting tile with no known pixel),
        else ``None`` (the image is fitted whole).

        Examples
        --------
        >>> denoise = TASK_DEFAULTS["denoise"]
        >>> denoise.tile_for(1024, 1024), denoise.tile_for(1000, 1000)
        (256, None)
        >>> TASK_DEFAULTS["inpaint"].tile_for(2048, 2048) is None
        True
        """
        if not self.auto_tile or height * width < AUTO_TILE_PIXELS:
            return None
        return AUTO_TILE

    def cap_for(self, height: int, width: int) -> int:
        """The adaptive budget's cap, as a multiple of :attr:`iters`, for an estimate of
        ``height × width`` pixels: :data:`ADAPTIVE_CAP`, or :attr:`long_cap` from
        :attr:`long_cap_pixels` pixels.

        Examples
        --------
        >>> denoise = TASK_DEFAULTS["denoise"]
        >>> denoise.cap_for(256, 256), denoise.cap_for(321, 481)
        (3, 5)
        >>> TASK_DEFAULTS["sr"].cap_for(1024, 1024)
        3
        """
        if self.long_cap is None or height * width < self.long_cap_pixels:
            return ADAPTIVE_CAP
        return self.long_cap

    def describe_cap(self) -> str:
        """The cap in words: ``'3× (5× from 131072 pixels ≈ 362²)'`` or ``'3×'``.

        Examples
        --------
        >>> TASK_DEFAULTS["denoise"].describe_cap(), TASK_DEFAULTS["inpaint"].describe_cap()
        ('3× (5× from 131072 pixels ≈ 362²)', '3×')
        """
        if self.long_cap is None:
            return f"{ADAPTIVE_CAP}×"
        return f"{ADAPTIVE_CAP}× ({self.long_cap}× from {_pixels_in_words(self.long_cap_pixels)})"

    def patience_for(self, height: int, width: int) -> int | None:
        """The default ``S`` of :attr:`stop` for an estimate of ``height × width`` pixels:
        :attr:`patience`, or :attr:`long_patience` from :attr:`long_cap_pixels` pixels (the
        sizes whose runs are long enough to dip and climb again).

        Examples
        --------
        >>> denoise = TASK_DEFAULTS["denoise"]
        >>> denoise.patience_for(256, 256), denoise.patience_for(321, 481)
        (300, 450)
        >>> TASK_DEFAULTS["sr"].patience_for(1024, 1024) is None
        True
        """
        if self.long_patience is None or height * width < self.long_cap_pixels:
            return self.patience
        return self.long_patience

    def describe_patience(self) -> str | None:
        """The default ``S`` in words: ``'300 (450 from 131072 pixels ≈ 362²)'``, ``'300'``, or
        ``None`` where each criterion keeps its own.

        Examples
        --------
        >>> TASK_DEFAULTS["denoise"].describe_patience()
        '300 (450 from 131072 pixels ≈ 362²)'
        >>> TASK_DEFAULTS["sr"].describe_patience() is None
        True
        """
        if self.patience is None:
            return None
        if self.long_patience is None:
            return str(self.patience)
        long = f"{self.long_patience} from {_pixels_in_words(self.long_cap_pixels)}"
        return f"{self.patience} ({long})"

    def describe_width(self) -> str:
        """The default width in words: ``'32 (64 from 49152 pixels ≈ 222²)'`` or ``'64'``.

        Examples
        --------
        >>> TASK_DEFAULTS["denoise"].describe_width(), TASK_DEFAULTS["sr"].describe_width()
        ('32 (64 from 49152 pixels ≈ 222² unless σ̂ ≥ 35)', '64')
        """
        if self.wide_width is None:
            return str(self.width)
        unless = (
            f" unless σ̂ ≥ {self.narrow_from_sigma:g}" if self.narrow_from_sigma is not None else ""
        )
        return f"{self.width} ({self.wide_width} from {_pixels_in_words(self.wide_pixels)}{unless})"


def _pixels_in_words(pixels: int) -> str:
    """A pixel count with the square it is about: ``'49152 pixels ≈ 222²'``."""
    return f"{pixels} pixels ≈ {round(pixels**0.5)}²"


#: Per task (operator name): what ``denoise``, ``inpaint`` and ``sr`` run by default.
TASK_DEFAULTS = {
    "denoise": TaskDefaults(
        DENOISE_ITERS,
        DENOISE_STOP,
        DENOISE_REG_NOISE_STD,
        "benchmarks/results/dev-cpu/report.md (development sweep)",
        patience=DENOISE_PATIENCE,
        also_confirm=DENOISE_ALSO_CONFIRM,
        width=DENOISE_WIDTH,
        wide_width=DENOISE_WIDE_WIDTH,
        wide_pixels=DENOISE_WIDE_PIXELS,
        narrow_from_sigma=DENOISE_NARROW_FROM_SIGMA,
        ensemble=DENOISE_ENSEMBLE,
        auto_tile=True,
        long_cap=DENOISE_LONG_CAP,
        long_cap_pixels=DENOISE_LONG_CAP_PIXELS,
        long_patience=DENOISE_LONG_PATIENCE,
    ),
    "inpaint": TaskDefaults(
        INPAINT_ITERS,
        None,
        INPAINT_REG_NOISE_STD,
        "DIP (Ulyanov et al.) inpainting: 3000 iterations, reg-noise 0.03",
        width=DEFAULT_WIDTH,
    ),
    "sr": TaskDefaults(
        SR_ITERS,
        None,
        SR_REG_NOISE_STD,
        "DIP (Ulyanov et al.) super-resolution x4: 2000 iterations, reg-noise 0.03",
        width=DEFAULT_WIDTH,
    ),
}

# --- the runner: FitConfig (the original DIP code's denoising settings, see above) -------------

#: :class:`~autodip.core.run.FitConfig`'s step budget: the DIP paper's 3000 denoising steps, run
#: without early stopping (the tasks use their own budgets, :data:`TASK_DEFAULTS`).
FIT_MAX_ITERS = 3000
#: Adam's learning rate (DIP: 0.01, every task).
LR = 0.01
#: The std of the per-step perturbation of the input code in a bare ``fit`` (DIP: 1/30 at σ = 25).
FIT_REG_NOISE_STD = 1.0 / 30.0
#: How the perturbation is drawn at each step (:mod:`autodip.core.perturbation`): ``"fresh"``
#: (a new Gaussian draw, as DIP does) or ``"shifted"`` (a shifted view of one bank, no draw).
#: ``shifted`` by default: it cuts the perturbation's part of a width-64 256² step from 20.6 to
#: 2.5 ms and the step's overhead from 20–21 % to 6–7 % (``profile-draws.md``), and on 4 256²
#: crops at σ = 25 it moved the PSNR at the stop by +0.02 dB on average (mean |·| 0.03 dB), where
#: changing the seed of fresh draws moved it by 0.04 (``perturbation.md``).
REG_NOISE_DRAWS = ("fresh", "shifted")
REG_NOISE_DRAW = "shifted"
#: Weight of the moving average of outputs (DIP: 0.99).
EXP_WEIGHT = 0.99
#: The input code: ``z ~ U[0, INPUT_SCALE)`` (DIP: 0.1).
INPUT_KIND = "noise"
INPUT_SCALE = 0.1
#: Seeds of the network, the code and the perturbations.
SEED = 0
#: Where and in what arithmetic a run goes (:mod:`autodip.core.hardware`): the fastest the machine
#: has.
DEVICE = "auto"
PRECISION = "auto"
#: Steps between records in the history and calls of the criteria (the granularity of every
#: stopping result in ``benchmarks/results/``).
MONITOR_EVERY = 10
#: Weight of the TV term (none by default; Peng, Hou and Tan, *It Takes Two to Better Denoise*).
TV_WEIGHT = 0.0
#: Share of the steps in stage 1 of a two-stage run (Peng, Hou and Tan: one third).
STAGE_FRACTION = 1.0 / 3.0
#: A monitored step whose fit to the target is this many dB below the last good one's counts as
#: divergence (the original DIP code's 5 dB test).
DIVERGENCE_DROP_DB = 5.0
#: Divergences recovered from before a run gives up, and the learning-rate factor of each.
MAX_RECOVERIES = 5
RECOVERY_LR_FACTOR = 0.5

# --- the fit guard (benchmarks/results/guard.md) ------------------------------------------------

#: An estimate is under-fitted when its residual exceeds this multiple of σ̂². At a good estimate
#: the residual is σ² + MSE(x̂, x) − 2·cov(n, x̂)/N ≈ σ² (DIP's peak lies where the network starts
#: to reproduce the noise); 1.5 leaves room for σ̂'s own error (+12 % at σ = 10 on textured
#: images, ``benchmarks/results/sigma_estimator.md``). ``benchmarks/results/guard.md`` measures
#: the ratio at every development run's own PSNR peak at 256², the evidence this value must stand
#: on.
GUARD_RATIO = 1.5
#: Below this σ̂ (0–255 scale) the guard does not judge: the noise is too weak, or not white
#: Gaussian, for σ̂ to be trusted. On CC15's real camera noise σ̂ reads 0.41–0.65 (the wavelet
#: rule: 0.74–2.97) where the noise std is 3.6–8.3 (whole images, ``guard.md``): judged there,
#: every estimate would look under-fitted.
GUARD_MIN_SIGMA = 4.0
#: The adaptive budget also goes on while the stopping criterion has not confirmed a stop, as long
#: as the residual is above this multiple of σ̂² (Morozov's discrepancy principle: at σ̂² the fit
#: is complete). On the 36 width-32 runs of the 256² development sweep this extension adds
#: 1.0 / 1.5 / 0.2 dB to the mean over the guard alone at σ = 15 / 25 / 50
#: (``benchmarks/results/guard-w32.md``); once the residual is below σ̂² the network fits noise,
#: and going on cost the 192² demo image 0.96 dB (``benchmarks/results/guard.md``).
EXTEND_ABOVE_RATIO = 1.0
#: The stopping criterion may confirm a stop only once the residual of the estimate has come down
#: to this multiple of σ̂² (where the guard can judge, :data:`GUARD_MIN_SIGMA`): the candidate rule
#: starts afresh at the first monitored step at or below it, and an earlier candidate is never
#: confirmed. At their own PSNR peak the 36 default runs of the 256² sweep have a residual of
#: 0.85–1.05 σ̂²; CIFS confirmed early on three σ = 15 crops at 1.06–1.21 σ̂², 0.4–2.1 dB under
#: their peak (``benchmarks/results/guard.md``, "The confirmation gate replayed", measures each
#: threshold).
CONFIRM_BELOW_RATIO = 1.1

# --- CIFS calibration (benchmarks/results/cifs_calibration.md, the command that made the table) --

CALIBRATION_SIGMAS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75)
CALIBRATION_ITERS = 1500
CALIBRATION_CROP = 128
CALIBRATION_PATIENCE = 500

# --- benchmark sweeps (autodip.bench.Sweep; the papers' settings: 3000 steps, S = 500) ----------

BENCH_ITERS = 3000
BENCH_CRITERIA = ("cifs", "wmv", "emv")
BENCH_PATIENCE = 500
BENCH_DEGRADATION = "gaussian:25"
#: Steps between a sweep's run checkpoints: at 256² a width-64 run on one CPU thread takes about
#: 2 s a step, so a sweep killed at the end of a session loses at most ≈ 7 minutes per worker
#: instead of the whole run (2–6 hours at full size or for dip-skip).
BENCH_CHECKPOINT_EVERY = 200
