"""The ``autodip`` command's argument parsers and the types that check option values.

Option defaults and the numbers in ``--help`` come from :mod:`autodip.defaults`.
"""

from __future__ import annotations

import argparse
import math
import typing
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from autodip import defaults as default
from autodip.cli.common import EXIT_USAGE


class _Parser(argparse.ArgumentParser):
    """argparse with autodip's error form: one line, ``autodip: error: …``, exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"autodip: error: {message} (see `{self.prog} --help`)\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        """As argparse's, but an unknown option points to its command's ``--help``."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            commands = [getattr(parsed, name, None) for name in ("command", "bench_command")]
            where = " ".join([self.prog, *filter(None, commands)])
            self.exit(
                EXIT_USAGE,
                f"autodip: error: unrecognized arguments: {' '.join(extras)} "
                f"(see `{where} --help`)\n",
            )
        return parsed


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except where there is nothing to show: an unset option, a flag (``store_true``
    or ``store_false``: its name says what it does), an empty list or string.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        flag = isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction)
        empty = action.default in (None, argparse.SUPPRESS) or action.default in ("", [], ())
        if flag or empty:
            return action.help
        return super()._get_help_string(action)


def _number(text: str) -> float:
    """A float, also written as a fraction such as ``1/30``."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _shown(value: float) -> str:
    """A default as ``--help`` shows it and the parser reads it back: ``0.01``, ``1/3``, ``1/30``.

    >>> _shown(0.01), _shown(1 / 3), _shown(1 / 30)
    ('0.01', '1/3', '1/30')
    """
    text = f"{value:g}"
    if float(text) == value:
        return text
    fraction = Fraction(value).limit_denominator(1000)
    if fraction.numerator / fraction.denominator == value:
        return f"{fraction.numerator}/{fraction.denominator}"
    return repr(value)


#: The largest count or size an option takes (steps, pixels, processes): C's 32-bit int.
MAX_COUNT = 2**31 - 1


#: The largest seed: torch's generators take 64 bits, and the runner and criteria derive their
#: own streams from ``seed + offset``.
MAX_SEED = 2**63 - 1


#: The widest network the command line builds (:data:`autodip.defaults.MAX_WIDTH`).
MAX_WIDTH = default.MAX_WIDTH


#: The deepest: each scale halves the image, and no readable image has a side of 2^30 pixels.
MAX_DEPTH = 30


#: The most local worker processes ``bench run`` starts.
MAX_WORKERS = 256


def _int_in(low: int, high: int = MAX_COUNT) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high``."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            what = "a positive integer" if low == 1 else f"an integer from {low}"
            raise argparse.ArgumentTypeError(f"must be {what} up to {high}, got {text}")
        return value

    return integer


_positive_int = _int_in(1)


def _real_in(
    low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number (or fraction such as ``1/30``) in an interval.

    Checked at parse time, so that ``inf``, ``nan`` or ``-1`` never reach the run (where they
    would surface as NumPy or PyTorch warnings, or as a contradictory end message).
    """

    def real(text: str) -> float:
        value = _number(text)
        inside = (low < value if low_open else low <= value) and (
            value < high if high_open else value <= high
        )
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(
                f"must be {_interval(low, high, low_open, high_open)}, got {text}"
            )
        return value

    return real


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    """Words for an interval: 'a positive number', 'a number in [0, 1)', ..."""
    if math.isinf(high):
        if low == 0:
            return "a positive number" if low_open else "a non-negative number"
        return f"a number {'above' if low_open else 'at least'} {low:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


_positive_real = _real_in(0, low_open=True)


_non_negative_real = _real_in(0)


_seed = _int_in(0, MAX_SEED)


def _positive_seconds(text: str) -> float:
    """A finite, positive number of seconds."""
    value = _number(text)
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


TASKS = {
    "denoise": (
        "remove noise from an image",
        "Remove noise from an image by fitting a Deep Image Prior to it.",
    ),
    "inpaint": (
        "fill in the unknown pixels of an image",
        "Fill the unknown pixels of an image (given by a mask) with a Deep Image Prior fitted to "
        "the known ones.",
    ),
    "sr": (
        "super-resolve an image (×2, ×3, ×4, ×8)",
        "Upsample an image by an integer factor with a Deep Image Prior whose output, blurred "
        "by a Lanczos-2 filter and subsampled, fits the input.",
    ),
}


def _frame_index(text: str) -> int:
    """An argparse type: a frame number, counted from 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"frames are counted from 0, got {text}")
    return value


def _add_restore_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    """The options shared by ``denoise``, ``inpaint`` and ``sr``, with the task's defaults."""
    _add_input_arguments(parser, task)
    _add_run_arguments(parser, task)


def _add_input_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    """What to read and write: the input, ``-o``, the mask or factor, frames, damaged files."""
    what = {"denoise": "noisy", "inpaint": "damaged", "sr": "low-resolution"}[task]
    parser.add_argument(
        "input",
        type=Path,
        help=f"{what} image (PNG, JPEG, BMP, TIFF or .npy), or a folder or quoted glob of them "
        "(then -o is a folder)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="where to write the result (its extension picks the format), or the output folder "
        "when the input is a folder or glob",
    )

    if task == "inpaint":
        parser.add_argument(
            "--mask",
            type=Path,
            required=True,
            help="image of the input's size: white (> 50 %% gray) = known pixel; colour masks "
            "with different channels are per-channel masks; for a folder of inputs, a folder "
            "holding NAME_mask.* (or NAME.*) for each, or one mask for all",
        )
        parser.add_argument(
            "--mask-invert", action="store_true", help="the mask's white marks the missing pixels"
        )
    if task == "sr":
        parser.add_argument(
            "--factor",
            type=_positive_int,
            required=True,
            help="upsampling factor (2, 3, 4 or 8 are the tested ones); the output is exactly "
            "factor × the input's size",
        )
    source = parser.add_argument_group("input")
    source.add_argument(
        "--frame",
        type=_frame_index,
        metavar="N",
        help="restore frame N of an animated GIF, PNG or WebP, counted from 0 (0 = the first "
        "frame); without it an animation is refused",
    )
    source.add_argument(
        "--allow-truncated",
        action="store_true",
        help="restore a truncated or corrupt input (e.g. a JPEG cut short) as the decoder pads "
        "it, with a warning, instead of refusing it",
    )


def _add_run_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    """How to run: the network, the optimisation, stopping, placement, reports."""
    defaults = default.TASK_DEFAULTS[task]
    net = parser.add_argument_group("network")
    net.add_argument(
        "--net",
        help=f"network (default: {default.DEFAULT_NET}"
        + f" at width {defaults.describe_width()}"
        + "; see `autodip list nets`), or 'auto': a "
        "2-level bilinear hourglass whose width (32, 64 or 128) is predicted from the input's "
        "texture (see `autodip inspect`; trained on 128² crops, it trails the default at 256²: "
        "docs/usage.md)",
    )
    net.add_argument(
        "--width",
        type=_int_in(1, MAX_WIDTH),
        help=f"channels per scale (default: {defaults.describe_width()} for "
        f"{default.DEFAULT_NET}, else the "
        "network's own)",
    )
    net.add_argument(
        "--depth",
        type=_int_in(1, MAX_DEPTH),
        help="number of scales (default: the network's own)",
    )
    run = parser.add_argument_group("optimisation")
    run.add_argument(
        "--iters",
        type=_positive_int,
        help="number of iterations, a hard cap (default: an adaptive budget of "
        + f"{defaults.iters} steps"
        + ("; 4000 for --factor 8" if task == "sr" else "")
        + f", extended up to {defaults.describe_cap()} while the estimate is under-fitted"
        + (
            ", or the stopping criterion has not confirmed a stop and the fit is not yet at the "
            "noise level)"
            if defaults.stop
            else ")"
        ),
    )
    run.add_argument(
        "--max-time",
        type=_positive_seconds,
        metavar="SECONDS",
        help="wall-clock limit: end the run at the first check past it, with its best estimate "
        "(an ensemble's limit is the whole ensemble's: no member starts once it is spent)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="exit with code 3 when the result is under-fitted (its residual is still well "
        "above the estimated noise level; see the summary)",
    )
    run.add_argument(
        "--no-fit-guard",
        dest="fit_guard",
        action="store_false",
        help="do not judge whether the result is under-fitted (nor extend the budget for it, "
        "nor hold the stopping criterion's stop until the fit reaches the noise level)",
    )
    run.add_argument(
        "--lr", type=_positive_real, default=_shown(default.LR), help="Adam learning rate"
    )
    run.add_argument(
        "--reg-noise-std",
        type=_non_negative_real,
        help="std of the per-step perturbation of the network input (default: "
        + _shown(defaults.reg_noise_std)
        + (f"; {_shown(default.SR8_REG_NOISE_STD)} for --factor 8)" if task == "sr" else ")"),
    )
    run.add_argument(
        "--reg-noise-draw",
        choices=default.REG_NOISE_DRAWS,
        default=default.REG_NOISE_DRAW,
        help="how that perturbation is drawn: 'fresh', a new Gaussian draw at each step (the DIP "
        "paper's way), or 'shifted', a shifted view of one Gaussian draw (no draw per step)",
    )
    run.add_argument(
        "--exp-weight",
        type=_real_in(0, 1, high_open=True),
        default=_shown(default.EXP_WEIGHT),
        help="weight of the moving average of outputs (0 turns it off)",
    )
    run.add_argument(
        "--seed", type=_seed, default=default.SEED, help="random seed (same seed, same result)"
    )
    run.add_argument("--device", default=default.DEVICE, help="auto, cpu, cuda or cuda:N")
    run.add_argument(
        "--precision",
        default=default.PRECISION,
        choices=("auto", "fp32", "bf16"),
        help="arithmetic; auto = bf16 where the hardware does it natively",
    )
    run.add_argument(
        "--monitor-every",
        type=_positive_int,
        default=default.MONITOR_EVERY,
        help="steps between history records",
    )
    tv = parser.add_argument_group(
        "total-variation regularisation (Peng, Hou and Tan, It Takes Two to Better Denoise)"
    )
    tv.add_argument(
        "--tv",
        type=_non_negative_real,
        default=default.TV_WEIGHT,
        metavar="WEIGHT",
        help="add WEIGHT × anisotropic TV to the loss (the paper's λ for [0, 1] images; "
        "try 0.01–0.1)",
    )
    tv.add_argument(
        "--two-stage",
        choices=("continue", "retarget"),
        help="TV only in a first stage, then plain DIP: 'continue' keeps fitting the input, "
        "'retarget' fits the stage-1 result",
    )
    tv.add_argument(
        "--stage-fraction",
        type=_real_in(0, 1, low_open=True, high_open=True),
        help=f"share of --iters in the first stage of --two-stage (default: "
        f"{_shown(default.STAGE_FRACTION)})",
    )
    stopping = parser.add_argument_group("stopping")
    stopping.add_argument(
        "--stop",
        metavar="CRITERION",
        help="criterion that stops the run (see `autodip list criteria`); 'none' runs all "
        f"--iters steps (default: {defaults.stop or 'none'}"
        + ("; emv for images of other than 1 or 3 channels)" if defaults.stop else ")"),
    )
    stopping.add_argument(
        "--monitor",
        default="",
        metavar="A,B,...",
        help="further criteria to record on the same run",
    )
    stopping.add_argument(
        "--no-early-stop",
        action="store_true",
        help="run all --iters steps, recording --stop and --monitor criteria",
    )
    stopping.add_argument(
        "--patience",
        type=_positive_int,
        help="steps without a better score that confirm a stop (default: "
        + (f"{defaults.describe_patience()} for {defaults.stop}, " if defaults.patience else "")
        + "each criterion's own)",
    )
    stopping.add_argument(
        "--also-confirm",
        metavar="CRITERION",
        help="a second criterion whose confirmed stop also ends the run, which then returns "
        "--stop's best estimate; 'none' turns it off (default: "
        + (
            f"{defaults.also_confirm} beside {defaults.stop}, where the noise level can be trusted)"
            if defaults.also_confirm
            else "none)"
        ),
    )
    stopping.add_argument(
        "--criterion-option",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="an option of a criterion, e.g. osc.half_length=200 (repeatable)",
    )
    ensemble = parser.add_argument_group("ensemble")
    ensemble.add_argument(
        "--ensemble",
        type=_int_in(1, default.MAX_ENSEMBLE),
        metavar="K",
        help="restore K times (seeds --seed, --seed+1, …, each stopped by its own criterion) and "
        "write the mean; --report adds uncertainty.png, the members' per-pixel standard "
        "deviation (where they disagree, not a calibrated error bar). Takes K times as long on a "
        "CPU, less on a GPU (--batch-members) "
        + (
            f"(default: {defaults.ensemble}, one run when tiled or with --window; --ensemble 1 "
            f"takes 1/{defaults.ensemble} of the time)"
            if defaults.ensemble > 1
            else "(default: 1, one run)"
        ),
    )
    ensemble.add_argument(
        "--ensemble-transforms",
        choices=("none", "dihedral"),
        help="dihedral: member k also restores the k-th of the 8 flips and rotations of the "
        f"input, turned back before averaging (default: {default.ENSEMBLE_TRANSFORMS})",
    )
    ensemble.add_argument(
        "--batch-members",
        choices=("auto", "on", "off"),
        help="run the members as one batched computation, each as it would run alone (on: or "
        "say why not; off: one after another). auto (default): batched on a GPU, where it is "
        "faster, unless dihedral members, --max-time, checkpoints, --window, --tv, "
        "--two-stage, --stop osc/holdout/sure or the GPU's memory need them one by one",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--reference", type=Path, help="clean image: print PSNR/SSIM against it")
    out.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write report.json, curves.png and report.html into DIR (an ensemble also "
        "uncertainty.png)",
    )
    out.add_argument(
        "--bit-depth",
        type=int,
        choices=(8, 16),
        help="bit depth of the output (default: the input's where the format allows)",
    )
    out.add_argument(
        "--drop-alpha",
        action="store_true",
        help="write an input with alpha (transparency) to a format without it (JPEG, BMP) by "
        "dropping the alpha plane; without it that is refused",
    )
    out.add_argument("-f", "--force", action="store_true", help="overwrite existing files")
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no messages but warnings and errors",
    )
    out.add_argument(
        "--json",
        action="store_true",
        help="print the run's record (a batch's summary) as JSON on stdout; implies --quiet",
    )
    robust = parser.add_argument_group("large images and long runs")
    robust.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="refuse a run whose estimated peak memory exceeds SIZE (e.g. 4G); the free memory "
        "of the device is always a limit",
    )
    robust.add_argument(
        "--tile",
        type=_positive_int,
        metavar="SIZE",
        # accepted by every task so that `sr --tile` gets a reason, but listed only where it works
        help="restore in overlapping SIZE×SIZE tiles blended without seams"
        if task != "sr"
        else argparse.SUPPRESS,
    )
    robust.add_argument(
        "--no-tile",
        dest="auto_tile",
        action="store_false",
        help=f"fit an image of {round(default.AUTO_TILE_PIXELS**0.5)}² pixels or more whole (by "
        f"default it is restored in {default.AUTO_TILE}² tiles, which fit far faster: "
        "docs/benchmarks.md)"
        if task == "denoise"
        else argparse.SUPPRESS,
    )
    robust.add_argument(
        "--window",
        type=_positive_int,
        metavar="SIZE",
        help="fit a random SIZE×SIZE window of the image at each step (plus the network's "
        "receptive field around it) and evaluate the whole image only at monitored steps; a "
        "step then costs what a SIZE² image costs"
        if task == "denoise"
        else argparse.SUPPRESS,
    )
    robust.add_argument(
        "--tile-overlap",
        type=_int_in(0),
        metavar="PIXELS",
        help="overlap of neighbouring tiles (default: a quarter of --tile)"
        if task != "sr"
        else argparse.SUPPRESS,
    )
    robust.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        metavar="N",
        help="save the run's whole state every N steps to OUTPUT.ckpt, an ensemble's members each "
        "to OUTPUT.memberK.ckpt (removed once the run completes)",
    )
    robust.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoint(s), with the same --ensemble: the "
        "same result as an uninterrupted run",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``autodip`` command."""
    parser = _Parser(
        prog="autodip",
        description=(
            "Restore a degraded image with a Deep Image Prior: no training data, no tuning."
        ),
        epilog="Example: autodip denoise noisy.png -o clean.png --report run/",
    )
    from autodip import __version__

    parser.add_argument("--version", action="version", version=f"autodip {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for task, (summary, description) in TASKS.items():
        _add_restore_arguments(
            commands.add_parser(
                task, help=summary, description=description, formatter_class=_HelpFormatter
            ),
            task,
        )

    cal = commands.add_parser(
        "calibrate-cifs",
        help="fit CIFS's λ(σ) table on clean images",
        description="Run DIP on clean images with synthetic noise, record MSE, JPEG size and PSNR "
        "per step, and pick for each σ the λ that maximises the mean PSNR at the CIFS stop "
        "(from the recorded histories, without re-running).",
        formatter_class=_HelpFormatter,
    )
    cal.add_argument("--images", type=Path, required=True, help="folder of clean images")
    cal.add_argument(
        "--select",
        choices=("even", "odd", "all"),
        default="even",
        help="files at even (0, 2, …) or odd positions in name order, or all",
    )
    cal.add_argument("--limit", type=_positive_int, help="use only the first N selected images")
    cal.add_argument(
        "--sigmas",
        default=",".join(f"{s:g}" for s in default.CALIBRATION_SIGMAS),
        help="noise levels (0–255 scale)",
    )
    cal.add_argument(
        "--iters",
        type=_positive_int,
        default=default.CALIBRATION_ITERS,
        help="iterations per run",
    )
    cal.add_argument(
        "--crop", type=_positive_int, default=default.CALIBRATION_CROP, help="centre crop size"
    )
    cal.add_argument(
        "--patience",
        type=_positive_int,
        default=default.CALIBRATION_PATIENCE,
        help="candidate-rule S",
    )
    cal.add_argument(
        "--cache",
        type=Path,
        default=Path("calibration-cache"),
        help="folder of recorded trajectories (resumable)",
    )
    cal.add_argument("--device", default=default.DEVICE, help="auto, cpu, cuda or cuda:N")
    cal.add_argument(
        "-o", "--out", type=Path, default=Path("cifs_lambda.json"), help="where to write the table"
    )
    cal.add_argument("-f", "--force", action="store_true", help="overwrite --out")

    inspect = commands.add_parser(
        "inspect",
        help="show an image's texture features and the width --net auto would choose",
        description="Compute the noise-robust texture features of an image (GLCM and power "
        "spectrum, after a pre-filter scaled by the estimated noise level) and the width "
        "probabilities of the hourglass that `autodip denoise --net auto` runs.",
        formatter_class=_HelpFormatter,
    )
    inspect.add_argument("input", type=Path, help="image (PNG, JPEG, BMP, TIFF or .npy)")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument(
        "--model", type=Path, help="width model file (default: the one shipped with autodip)"
    )

    train = commands.add_parser(
        "train-width",
        help="train the width predictor of --net auto on labelled images",
        description="Fit the width classifier (multinomial logistic regression on noise-robust "
        "texture features) to the NoRepeat labels of a Texture-DIP label file; every image is "
        "used clean and with Gaussian noise at each --sigmas level.",
        epilog="Example: autodip train-width --labels ../shared/data/texture_dip_width_labels.csv "
        "--data ../shared/data -o src/autodip/data/width_predictor.json",
        formatter_class=_HelpFormatter,
    )
    train.add_argument(
        "--labels", type=Path, required=True, help="CSV with variant,width_label,image columns"
    )
    train.add_argument(
        "--data", type=Path, required=True, help="folder the CSV's image paths are relative to"
    )
    train.add_argument("-o", "--out", type=Path, required=True, help="model file to write (JSON)")
    from autodip.analysis.width_predictor import DEFAULT_ALPHA, TRAIN_SIGMAS

    train.add_argument(
        "--sigmas",
        default=",".join(f"{s:g}" for s in TRAIN_SIGMAS),
        help="noise levels of the training copies (0–255 scale; 0 = the clean image)",
    )
    train.add_argument(
        "--alpha",
        type=_non_negative_real,
        default=str(DEFAULT_ALPHA),
        help="L2 penalty on the weights",
    )
    train.add_argument(
        "--seed", type=_seed, default=default.SEED, help="seed of the training noise"
    )
    train.add_argument("-f", "--force", action="store_true", help="overwrite --out")

    lister = commands.add_parser(
        "list",
        help="list registered components",
        description="List the networks (--net) with their sizes and papers, or the stopping "
        "criteria (--stop, --monitor) with what their scores mean.",
    )
    lister.add_argument("what", choices=("nets", "criteria"), help="what to list")
    _add_bench_arguments(commands)
    _add_serve_arguments(commands)
    return parser


def _add_serve_arguments(commands: Any) -> None:
    from autodip import serve

    page = commands.add_parser(
        "serve",
        help="a local web page: restore images, paint inpainting masks, watch the run",
        description="Start a local web server and print the address of its page (with an "
        "access token, as Jupyter does): drop an image, choose the task, paint the pixels to "
        "fill, start, watch the estimate and the criteria's curves, stop when you like it, "
        "download the result and its report. Jobs run one at a time on --device. Needs "
        f"{serve.INSTALL_HINT}.",
        epilog="Example: autodip serve --open",
        formatter_class=_HelpFormatter,
    )
    page.add_argument(
        "--port", type=_int_in(0, 65535), default=serve.DEFAULT_PORT, help="port (0: any free one)"
    )
    page.add_argument(
        "--host",
        default=serve.DEFAULT_HOST,
        help="address to listen on; any other than a loopback address lets other machines "
        "reach the page (with the token)",
    )
    page.add_argument("--device", default=default.DEVICE, help="auto, cpu, cuda or cuda:N")
    page.add_argument(
        "--precision",
        default=default.PRECISION,
        choices=("auto", "fp32", "bf16"),
        help="arithmetic; auto = bf16 where the hardware does it natively",
    )
    page.add_argument(
        "--max-upload",
        default=serve.DEFAULT_MAX_UPLOAD,
        metavar="SIZE",
        help="largest image file the page may upload (e.g. 64M, 1G)",
    )
    page.add_argument("--open", action="store_true", help="open the page in the web browser")


def _add_bench_arguments(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="benchmark sweeps: every criterion on the same trajectories, the papers' tables",
        description="Sweep images × degradations × networks × seeds; record every criterion on "
        "one trajectory per run; write rows, tables and plots. Resumable: rerunning skips "
        "finished runs.",
        formatter_class=_HelpFormatter,
    )
    actions = bench.add_subparsers(dest="bench_command", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run a sweep (or continue it) and write its report",
        formatter_class=_HelpFormatter,
        epilog="Example: autodip bench run --images ../shared/data/set9 --crop 128 "
        "--noise gaussian:15,25,50 --criteria cifs,wmv,emv,osc --iters 3000 -o results/dev",
    )
    run.add_argument("-o", "--out", type=Path, required=True, help="results folder")
    run.add_argument("--sweep", type=Path, help="JSON (or YAML) file with the settings below")
    run.add_argument("--images", nargs="+", help="folders, globs or files")
    run.add_argument(
        "--crop", type=_positive_int, help="centre crop size (default: none, whole images)"
    )
    run.add_argument("--gray", action="store_true", help="convert images to gray")
    run.add_argument(
        "--noise",
        "--degradations",
        dest="degradations",
        nargs="+",
        help="KIND:LEVEL,… with KIND gaussian (σ), poisson (scale), sr (factor), inpaint "
        "(fraction dropped); or real: the images are noisy camera shots X_real.png, scored "
        f"against X_mean.png beside them (CC15) (default: {default.BENCH_DEGRADATION})",
    )
    run.add_argument(
        "--nets",
        nargs="+",
        help=f"registry names, NAME:key=value,… for overrides (default: {default.DEFAULT_NET})",
    )
    run.add_argument(
        "--criteria",
        help=f"comma-separated criteria (default: {','.join(default.BENCH_CRITERIA)})",
    )
    run.add_argument(
        "--iters", type=_positive_int, help=f"iteration budget (default: {default.BENCH_ITERS})"
    )
    run.add_argument("--seeds", type=_seed, nargs="+", help=f"seeds (default: {default.SEED})")
    run.add_argument(
        "--patience",
        type=_positive_int,
        nargs="+",
        help=f"S values (default: {default.BENCH_PATIENCE})",
    )
    run.add_argument(
        "--monitor-every",
        type=_positive_int,
        help=f"steps between records (default: {default.MONITOR_EVERY})",
    )
    run.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        help=f"arithmetic (default: {default.PRECISION})",
    )
    run.add_argument("--device", help=f"auto, cpu, cuda or cuda:N (default: {default.DEVICE})")
    run.add_argument(
        "--baselines",
        help="comma-separated, each run on the degradations of its task: denoising tv, nlm, "
        "wavelet, bm3d (bm3d: pip install autodip[bench], non-commercial licence); inpainting "
        "telea, navier-stokes, biharmonic; super-resolution bicubic, lanczos",
    )
    run.add_argument(
        "--workers",
        type=_int_in(1, MAX_WORKERS),
        default=1,
        help="jobs at once: local processes, or per node with --backend ray",
    )
    run.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="where to run: here, or on Ray (pip install 'autodip[ray]')",
    )
    run.add_argument(
        "--address",
        help="Ray cluster: HOST:PORT, or auto for the one `ray start` started here (default: "
        "$RAY_ADDRESS, else a local Ray instance for the sweep)",
    )
    run.add_argument(
        "--checkpoint-every",
        type=_int_in(0, 10**9),
        metavar="N",
        help="each DIP run saves its state every N steps beside the cache (runs/KEY.ckpt), and "
        "a rerun of the sweep continues it from there; 0: never; local backend only (default: "
        f"{default.BENCH_CHECKPOINT_EVERY})",
    )
    report = actions.add_parser(
        "report",
        help="rebuild rows and report from a results folder (nothing is run)",
        formatter_class=_HelpFormatter,
    )
    report.add_argument("results", type=Path, help="results folder of `autodip bench run`")
    report.add_argument("--patience", type=_positive_int, nargs="+", help="S values")
