"""Cross-validated accuracy of the width predictor behind ``autodip denoise --net auto``.

Seed 003 (Liu et al., Sec. 4.4, Fig. 11) reports a micro-average AUC of 0.86 for classifying the
width (32/64/128) of a 2-level hourglass from texture features, by 5-fold cross-validation
repeated 10 times. This script repeats that protocol on the 86 ``NoRepeat`` labels of
``shared/data/texture_dip_width_labels.csv`` with autodip's features and classifier
(`autodip.analysis.texture`, `autodip.analysis.width_predictor`) and measures, with the same folds:

* ``raw, clean-trained``: the paper's setting, features of the image as it is, trained on clean
  images, evaluated on clean images and on noisy copies (σ = 15, 25, 50) — the "before";
* ``pre-filter, clean-trained``: features after the σ̂-scaled Gaussian pre-filter only;
* ``raw, noisy-trained``: no pre-filter, trained on clean + noisy copies (σ in TRAIN_SIGMAS);
* ``pre-filter, noisy-trained``: both — what ``autodip train-width`` ships — the "after";
* ``class frequencies``: every image gets the training folds' class frequencies (no features):
  the floor any classifier has to beat (micro AUC rewards ranking the frequent class high).

Training copies use noise seeds ``noise_seed(image, σ, 0)`` (as ``train-width``), evaluation
copies ``noise_seed(image, σ, 1)``; the evaluation levels 15, 25, 50 are not training levels.
Folds are stratified, seeds 0–9. Features are cached under ``benchmarks/cache/`` keyed by the
source of `autodip.analysis.texture`. No DIP is run; a few minutes on one core. Usage::

    OMP_NUM_THREADS=1 python benchmarks/architecture_cv.py \\
        --out benchmarks/results/architecture_cv.md
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import autodip.analysis.texture
from autodip.analysis.texture import FEATURE_NAMES, robust_texture_features, texture_features
from autodip.analysis.width_predictor import (
    DEFAULT_ALPHA,
    TRAIN_SIGMAS,
    WIDTHS,
    fit_width_model,
    macro_auc,
    micro_auc,
    noise_seed,
    read_width_labels,
    stratified_folds,
)
from autodip.bench.provenance import provenance, with_provenance, write_report
from autodip.io import read_image
from autodip.physics.noise import add_gaussian_noise
from common import SHARED_DATA, cached

LABELS = SHARED_DATA / "texture_dip_width_labels.csv"
EVAL_SIGMAS = (15, 25, 50)
TEST_SIGMAS = (0, *EVAL_SIGMAS)
FOLDS, REPEATS = 5, 10
PAPER_MICRO_AUC = 0.86
CACHE = Path(__file__).resolve().parent / "cache" / "architecture_cv"
CLASSES = np.array(WIDTHS)


def compute_features(labels: list[tuple[str, Path, int]]) -> dict:
    """Raw and pre-filtered features of every image, clean and at every noise level used."""
    levels = sorted({0, *TRAIN_SIGMAS, *EVAL_SIGMAS})
    table: dict = {"raw": {}, "robust": {}, "pixels": [], "sigma_hat": {}}
    for kind in ("raw", "robust"):
        for sigma in levels:
            table[kind][str(sigma)] = []
    for sigma in levels:
        table["sigma_hat"][str(sigma)] = []
    for name, path, _ in labels:
        clean, _ = read_image(path)
        table["pixels"].append(int(clean.shape[1] * clean.shape[2]))
        for sigma in levels:
            # The training levels use train-width's seeds, the evaluation levels others.
            seed = 1 if sigma in EVAL_SIGMAS else 0
            image = (
                clean
                if sigma == 0
                else add_gaussian_noise(clean, sigma, noise_seed(name, sigma, seed))
            )
            raw = texture_features(image)
            robust = robust_texture_features(image)
            table["raw"][str(sigma)].append([raw[f] for f in FEATURE_NAMES])
            table["robust"][str(sigma)].append([robust[f] for f in FEATURE_NAMES])
            table["sigma_hat"][str(sigma)].append(robust["noise_sigma"])
        print(f"features: {name}", file=sys.stderr)
    return table


def run_cv(
    y: np.ndarray,
    train_x: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    test_x: dict[int, np.ndarray],
    *,
    alpha: float = DEFAULT_ALPHA,
    prior_only: bool = False,
) -> dict[int, np.ndarray]:
    """Out-of-fold probabilities ``[repeat, image, class]`` for every test σ."""
    out = {s: np.zeros((REPEATS, y.size, CLASSES.size)) for s in test_x}
    for rep in range(REPEATS):
        folds = stratified_folds(y, FOLDS, seed=rep)
        for k in range(FOLDS):
            train, test = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
            if prior_only:
                prior = np.array([(y[train] == c).mean() for c in CLASSES])
                for s in test_x:
                    out[s][rep, test] = prior
                continue
            x, labels = train_x(train)
            names = [f"x{i}" for i in range(x.shape[1])]  # ablations have other columns
            model = fit_width_model(x, labels, alpha=alpha, feature_names=names)
            for s, features in test_x.items():
                out[s][rep, test] = model.predict_proba(features[test])
    return out


def scores(y: np.ndarray, proba: np.ndarray, lenient: list[set[int]], prior: np.ndarray) -> dict:
    """Mean and std over repeats of each metric, the predicted-width shares and confusion."""
    rows = []
    shares, confusion = np.zeros(CLASSES.size), np.zeros((CLASSES.size, CLASSES.size))
    for p in proba:
        pred = CLASSES[p.argmax(axis=1)]
        pred_bal = CLASSES[(p / prior).argmax(axis=1)]
        rows.append(
            [
                micro_auc(y, p),
                macro_auc(y, p),
                np.mean(pred == y),
                np.mean([np.mean(pred[y == c] == c) for c in CLASSES]),
                np.mean([w in ok for w, ok in zip(pred, lenient, strict=True)]),
                np.mean(pred_bal == y),
                np.mean([np.mean(pred_bal[y == c] == c) for c in CLASSES]),
            ]
        )
        shares += [np.mean(pred == c) for c in CLASSES]
        for t, q in zip(np.searchsorted(CLASSES, y), np.searchsorted(CLASSES, pred), strict=True):
            confusion[t, q] += 1
    keys = ("micro_auc", "macro_auc", "accuracy", "balanced_accuracy", "lenient_accuracy")
    keys += ("accuracy_prior_corrected", "balanced_accuracy_prior_corrected")
    values = np.array(rows)
    return {
        **{k: float(values[:, i].mean()) for i, k in enumerate(keys)},
        **{f"{k}_std": float(values[:, i].std()) for i, k in enumerate(keys)},
        "predicted_share": {
            str(c): float(v / len(proba)) for c, v in zip(CLASSES, shares, strict=True)
        },
        "confusion_true_by_predicted": (confusion / len(proba)).round(2).tolist(),
    }


def measure() -> dict:
    labels = read_width_labels(LABELS, SHARED_DATA, "NoRepeat")
    y = np.array([w for _, _, w in labels])
    repeats = {}
    for name, _, width in read_width_labels(LABELS, SHARED_DATA, "wRepeat"):
        repeats.setdefault(name, set()).add(width)
    lenient = [repeats.get(name, set()) | {w} for name, _, w in labels]
    key = hashlib.sha256(
        inspect.getsource(autodip.analysis.texture).encode() + LABELS.read_bytes()
    ).hexdigest()[:12]
    table = cached(CACHE / f"features-{key}.json", lambda: compute_features(labels))
    raw = {int(s): np.array(v) for s, v in table["raw"].items()}
    robust = {int(s): np.array(v) for s, v in table["robust"].items()}
    log_pixels = np.log(np.array(table["pixels"], float))[:, None]
    prior = np.array([(y == c).mean() for c in CLASSES])

    def clean_only(features: dict[int, np.ndarray]) -> Callable:
        return lambda idx: (features[0][idx], y[idx])

    def noisy(features: dict[int, np.ndarray]) -> Callable:
        return lambda idx: (
            np.concatenate([features[s][idx] for s in TRAIN_SIGMAS]),
            np.tile(y[idx], len(TRAIN_SIGMAS)),
        )

    settings = {
        "class frequencies (no features)": dict(
            train=clean_only(raw), test={s: raw[s] for s in TEST_SIGMAS}, prior_only=True
        ),
        "raw, clean-trained (paper; before)": dict(
            train=clean_only(raw), test={s: raw[s] for s in TEST_SIGMAS}
        ),
        "pre-filter, clean-trained": dict(
            train=clean_only(robust), test={s: robust[s] for s in TEST_SIGMAS}
        ),
        "raw, noisy-trained": dict(train=noisy(raw), test={s: raw[s] for s in TEST_SIGMAS}),
        "pre-filter, noisy-trained (shipped; after)": dict(
            train=noisy(robust), test={s: robust[s] for s in TEST_SIGMAS}
        ),
    }
    results = {}
    for name, spec in settings.items():
        proba = run_cv(y, spec["train"], spec["test"], prior_only=spec.get("prior_only", False))
        results[name] = {str(s): scores(y, p, lenient, prior) for s, p in proba.items()}
        print(f"cv: {name}", file=sys.stderr)

    ablation = {}
    with_size = {0: np.hstack([raw[0], log_pixels])}
    ablation["raw + log(pixel count), clean"] = with_size
    ablation["log(pixel count) alone, clean"] = {0: log_pixels}
    ablation_results = {}
    for name, feats in ablation.items():
        proba = run_cv(y, clean_only(feats), feats)
        ablation_results[name] = scores(y, proba[0], lenient, prior)
    alpha_results = {}
    for alpha in (0.001, 0.01, 0.1, 1.0):
        proba = run_cv(y, noisy(robust), {s: robust[s] for s in TEST_SIGMAS}, alpha=alpha)
        alpha_results[f"{alpha:g}"] = {
            str(s): scores(y, p, lenient, prior)["micro_auc"] for s, p in proba.items()
        }

    image = read_image(SHARED_DATA / "set9" / "image_Baboon512rgb.png")[0]
    timings = {}
    for label, fn in (("raw", texture_features), ("pre-filter", robust_texture_features)):
        fn(image)
        start = time.perf_counter()
        for _ in range(10):
            fn(image)
        timings[label] = (time.perf_counter() - start) / 10
    return {
        "labels": {
            "file": str(LABELS.relative_to(SHARED_DATA.parent)),
            "variant": "NoRepeat",
            "images": int(y.size),
            "counts": {str(c): int((y == c).sum()) for c in CLASSES},
            "double_labelled": int(sum(len(s) > 1 for s in lenient)),
        },
        "protocol": {
            "folds": FOLDS,
            "repeats": REPEATS,
            "fold_seeds": list(range(REPEATS)),
            "alpha": DEFAULT_ALPHA,
            "train_sigmas": list(TRAIN_SIGMAS),
            "eval_sigmas": list(EVAL_SIGMAS),
            "features": list(FEATURE_NAMES),
        },
        "mean_sigma_hat": {s: float(np.mean(v)) for s, v in table["sigma_hat"].items()},
        "results": results,
        "ablation_clean": ablation_results,
        "alpha_micro_auc": alpha_results,
        "seconds_per_image_512x512_rgb": timings,
    }


def _cell(r: dict, key: str, digits: int = 3) -> str:
    return f"{r[key]:.{digits}f} ± {r[key + '_std']:.{digits}f}"


def markdown(result: dict) -> str:
    lab = result["labels"]
    counts = ", ".join(f"{k}: {v}" for k, v in lab["counts"].items())
    lines = [
        "# Width predictor: cross-validation (seed 003, Sec. 4.4)",
        "",
        "- features only, no DIP runs",
        f"- labels: `{lab['file']}`, {lab['variant']}: {lab['images']} images ({counts}); "
        f"{lab['double_labelled']} of them have two `wRepeat` labels (used only by the "
        "lenient accuracy)",
        f"- protocol: stratified {FOLDS}-fold cross-validation repeated {REPEATS} times "
        "(fold seeds 0–9); each fold fits `autodip.analysis.width_predictor.fit_width_model` "
        f"(multinomial logistic regression, α = {result['protocol']['alpha']}) on the training "
        "folds; mean ± std over the 10 repeats",
        f"- noise: Gaussian σ on the 0–255 scale, clipped, seeded per image; noisy training "
        f"copies at σ ∈ {{{', '.join(str(s) for s in TRAIN_SIGMAS)}}}, evaluation at σ = "
        f"{', '.join(str(s) for s in EVAL_SIGMAS)} (not training levels)",
        "- columns: micro-average one-vs-rest AUC (the paper's metric), macro AUC (mean of the "
        "three one-vs-rest AUCs), accuracy of the most probable width, balanced accuracy (mean "
        "per-class recall), lenient accuracy (a prediction also counts when it is the image's "
        "other `wRepeat` label), and how often each width is predicted",
        "",
        f"The paper reports a micro-average AUC of {PAPER_MICRO_AUC} (its features, SVMs, the same "
        "labels, clean images).",
        "",
        "| setting | test σ | micro AUC | macro AUC | accuracy | balanced acc. | lenient acc. "
        "| predicted 32/64/128 |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, per_sigma in result["results"].items():
        for sigma, r in per_sigma.items():
            share = "/".join(f"{v:.0%}" for v in r["predicted_share"].values())
            lines.append(
                f"| {name} | {sigma} | {_cell(r, 'micro_auc')} | {_cell(r, 'macro_auc')} "
                f"| {_cell(r, 'accuracy', 2)} | {_cell(r, 'balanced_accuracy', 2)} "
                f"| {_cell(r, 'lenient_accuracy', 2)} | {share} |"
            )
    shipped = result["results"]["pre-filter, noisy-trained (shipped; after)"]
    lines += [
        "",
        "The shipped setting was chosen, before this script existed, among a few variants "
        "measured with the same protocol: a pre-filter of 1 or 2 × σ̂/25 px, an adaptive Wiener "
        "pre-filter, an analytic noise correction of the GLCM contrast/correlation and of the "
        "spectrum, and one model per noise level picked by σ̂. All noisy-trained variants "
        "landed within about ±0.02 micro AUC of each other, so the choice carries a small "
        "optimistic bias; the features and α were not tuned further.",
        "",
        "## Decision rule of the shipped setting",
        "",
        "The most probable width minimises the expected error rate on labels distributed like "
        "these (58 of 86 are 64). Dividing the probabilities by the class frequencies before "
        "taking the largest (equal priors) trades accuracy for balanced accuracy:",
        "",
        "| test σ | accuracy (argmax p) | balanced (argmax p) | accuracy (argmax p/prior) "
        "| balanced (argmax p/prior) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for sigma, r in shipped.items():
        lines.append(
            f"| {sigma} | {r['accuracy']:.2f} | {r['balanced_accuracy']:.2f} "
            f"| {r['accuracy_prior_corrected']:.2f} "
            f"| {r['balanced_accuracy_prior_corrected']:.2f} |"
        )
    lines += [
        "",
        "Confusion of the shipped setting (rows: label 32/64/128, columns: predicted; mean "
        "count per repeat):",
        "",
    ]
    for sigma, r in shipped.items():
        rows = "; ".join(
            f"{c}: " + " ".join(f"{v:g}" for v in row)
            for c, row in zip(WIDTHS, r["confusion_true_by_predicted"], strict=True)
        )
        lines.append(f"- σ = {sigma}: {rows}")
    lines += [
        "",
        "## Ablations (clean images)",
        "",
        "| features | micro AUC | macro AUC | accuracy | balanced acc. |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in result["ablation_clean"].items():
        lines.append(
            f"| {name} | {_cell(r, 'micro_auc')} | {_cell(r, 'macro_auc')} "
            f"| {_cell(r, 'accuracy', 2)} | {_cell(r, 'balanced_accuracy', 2)} |"
        )
    lines += [
        "",
        "Micro AUC of the shipped setting for other penalties α (the default was fixed "
        "beforehand, not tuned here):",
        "",
        "| α | " + " | ".join(f"σ = {s}" for s in TEST_SIGMAS) + " |",
        "|---:|" + "---:|" * len(TEST_SIGMAS),
    ]
    for alpha, per_sigma in result["alpha_micro_auc"].items():
        lines.append(f"| {alpha} | " + " | ".join(f"{v:.3f}" for v in per_sigma.values()) + " |")
    t = result["seconds_per_image_512x512_rgb"]
    sig = ", ".join(f"σ {s}: {v:.1f}" for s, v in result["mean_sigma_hat"].items())
    lines += [
        "",
        f"Mean estimated σ̂ per noise level (sets the pre-filter): {sig}.",
        "",
        f"Time per 512×512 RGB image (Baboon): {t['raw'] * 1e3:.0f} ms raw features, "
        f"{t['pre-filter'] * 1e3:.0f} ms with the noise estimate and pre-filter "
        "(one thread, shared machine).",
        "",
        "Everything, per setting and σ, is in the JSON file beside this one.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Markdown report; the JSON goes beside it")
    args = parser.parse_args(argv)
    record = provenance()
    result = measure()
    report = markdown(result)
    print(with_provenance(report, record))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_report(args.out, report, result, record)


if __name__ == "__main__":
    main()
