"""The tool commands: ``list``, ``inspect``, ``calibrate-cifs`` and ``train-width``."""

from __future__ import annotations

import argparse
import math
import sys

from autodip.cli.common import (
    EXIT_OK,
    UsageError,
    architecture_for,
    check_writable,
    describe_choice,
    read_input,
)


def _sigmas(text: str) -> list[float]:
    """The noise levels of ``--sigmas``: finite, non-negative numbers separated by commas."""
    try:
        sigmas = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sigmas must be numbers separated by commas, got {text!r}") from None
    if not sigmas or not all(math.isfinite(s) and s >= 0 for s in sigmas):
        raise UsageError(f"--sigmas must be finite, non-negative numbers, got {text!r}")
    return sigmas


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` that could not be written, before the long work that fills it."""
    from autodip.cli.files import check_folder

    check_writable([args.out], args.force)
    check_folder(args.out.parent, "output")


def calibrate_cifs(args: argparse.Namespace) -> int:
    """``autodip calibrate-cifs``: fit CIFS's λ(σ) table on clean images."""
    from autodip.bench.calibrate import calibrate, select_images
    from autodip.reporting.files import write_json

    _check_out(args)
    if not args.images.is_dir():
        raise UsageError(f"--images '{args.images}' is not a folder")
    sigmas = _sigmas(args.sigmas)
    images = select_images(args.images, args.select, args.limit)
    if not images:
        raise UsageError(f"no images selected in '{args.images}'")
    print(
        f"autodip: calibrating CIFS on {len(images)} images × {len(sigmas)} noise levels, "
        f"{args.iters} iterations on {args.crop}² crops",
        file=sys.stderr,
    )
    from autodip.io import ImageReadError

    try:
        table = calibrate(
            images,
            sigmas,
            iters=args.iters,
            crop=args.crop,
            patience=args.patience,
            cache=args.cache,
            device=args.device,
            log=lambda line: print(f"autodip: {line}", file=sys.stderr),
        )
    except (ImageReadError, ValueError) as error:
        raise UsageError(str(error)) from None
    table["made_with"]["command"] = "autodip " + " ".join(sys.argv[1:])
    write_json(args.out, table)
    print(f"autodip: wrote {args.out}", file=sys.stderr)
    return EXIT_OK


def inspect_image(args: argparse.Namespace) -> int:
    """``autodip inspect``: texture features and the width ``--net auto`` would choose."""
    import json

    image, _ = read_input(args.input, "input")
    architecture = architecture_for(image, args.model)
    if args.json:
        record = {"input": str(args.input), "shape_chw": list(image.shape), **architecture}
        print(json.dumps(record, indent=2))
        return EXIT_OK
    from autodip.analysis.noise_level import estimate_sigma

    print(f"{args.input}: {image.shape[2]}×{image.shape[1]}, {image.shape[0]} channel(s)")
    features = architecture["features"]
    print(
        f"noise σ̂ {estimate_sigma(image):.2f} (0–255 scale; what denoising uses: patch PCA, or "
        "the wavelet rule on an image too small for it)"
    )
    print(
        f"texture pre-filter {features['prefilter_px']:.2f} px, from the wavelet rule's σ̂ "
        f"{features['noise_sigma']:.2f} (the one the width predictor was trained with)"
    )
    print("texture features:")
    for name, value in features.items():
        if name not in ("noise_sigma", "prefilter_px"):
            print(f"  {name:21s} {value:.6g}")
    print("probabilities:")
    for width, p in architecture["probabilities"].items():
        print(f"  width {width:>3s}  {p:.3f}")
    print(f"chosen: {describe_choice(architecture).split(';')[0]}")
    return EXIT_OK


def train_width(args: argparse.Namespace) -> int:
    """``autodip train-width``: train the width predictor of ``--net auto``."""
    from autodip.analysis.width_predictor import read_width_labels, train_width_model
    from autodip.reporting.files import write_json

    _check_out(args)
    sigmas = _sigmas(args.sigmas)
    if not args.data.is_dir():
        raise UsageError(f"--data '{args.data}' is not a folder")
    from autodip.io import ImageReadError

    try:
        count = len(read_width_labels(args.labels, args.data))
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(
        f"autodip: training the width predictor on {count} images of {args.labels} "
        f"(NoRepeat labels), clean and at noise levels {args.sigmas}",
        file=sys.stderr,
    )
    try:
        model = train_width_model(
            args.labels,
            args.data,
            sigmas=sigmas,
            alpha=args.alpha,
            seed=args.seed,
            command="autodip " + " ".join(sys.argv[1:]),
            log=lambda line: print(f"autodip: {line}", file=sys.stderr),
        )
    except (ImageReadError, ValueError) as error:
        raise UsageError(str(error)) from None
    write_json(args.out, model.to_dict())
    print(f"autodip: wrote {args.out}", file=sys.stderr)
    return EXIT_OK


def list_components(args: argparse.Namespace) -> int:
    """``autodip list nets|criteria``: the registered networks or stopping criteria."""
    from autodip.nets import count_parameters, create_net, list_nets

    if args.what == "criteria":
        from autodip.stopping import list_criteria

        criteria = list_criteria()
        column = max(map(len, criteria))
        for name, cls in criteria.items():
            notes = [("lower" if cls.lower_is_better else "higher") + " is better"]
            if cls.needs_reference:
                notes.append("needs --reference")
            if cls.changes_objective:
                notes.append("changes the objective")
            summary = cls.summary or (cls.__doc__ or "").strip().splitlines()[0]
            summary = summary.replace("``", "").rstrip(".")
            print(f"{name:{column}s} {summary}  [{'; '.join(notes)}]")
        return EXIT_OK
    from autodip.defaults import DEFAULT_NET, TASK_DEFAULTS

    for name, summary in list_nets().items():
        params = count_parameters(create_net(name))
        print(f"{name:16s} {params:>10,} params  {summary}")
    print(
        f"\nWhat the commands run with no --net (or --net {DEFAULT_NET} without --width), "
        "for 3 channels:"
    )
    for task, defaults in TASK_DEFAULTS.items():
        widths = dict.fromkeys([defaults.width, defaults.wide_width or defaults.width])
        for width in widths:
            params = count_parameters(create_net(DEFAULT_NET, width=width))
            print(f"  {task:8s} {DEFAULT_NET} width {width:<4d} {params:>10,} params")
        if len(widths) > 1:
            pixels, side = defaults.wide_pixels, round(defaults.wide_pixels**0.5)
            limit = defaults.narrow_from_sigma
            unless = f" unless σ̂ ≥ {limit:g}" if limit is not None else ""
            print(f"  {'':8s} (width {defaults.wide_width} from {pixels} pixels ≈ {side}²{unless})")
    return EXIT_OK
