r"""Predict the width of Liu et al.'s 2-level hourglass from an image's texture.

Liu et al. (*The Devil is in the Upsampling*, Sec. 3.5 and 4.4) label each image of their
Texture-DIP set with the width (32, 64 or 128 channels) of a 2-level bilinear hourglass that
denoised it best, and classify the width from texture features (their Fig. 11: micro-average AUC
0.86, 5-fold cross-validation repeated 10 times). autodip's predictor:

* **features**: :func:`autodip.analysis.texture.robust_texture_features` of the (noisy) input: GLCM
  correlation 0°, homogeneity 45°, contrast 0° and three power-spectrum summaries, after a
  Gaussian pre-filter of ``σ̂/25`` pixels;
* **classifier**: multinomial logistic regression on standardised features with an L2 penalty,
  fitted by Newton's method in NumPy, minimising

  .. math::

      J(W, b) = \frac{1}{n}\sum_{i=1}^{n} -\log \operatorname{softmax}(W^\top z_i + b)_{y_i}
                + \frac{\alpha}{2}\lVert W \rVert_F^2,
      \qquad z_i = (x_i - \mu) / s;

* **training data**: the ``NoRepeat`` labels of ``texture_dip_width_labels.csv`` (one label per
  image; the ``wRepeat`` double labels are not used for training, only by the benchmark's lenient
  accuracy). The labels were made on clean images, but a user's image is noisy, so each training
  image enters once clean and once per noise level of :data:`TRAIN_SIGMAS` (Gaussian, seeded),
  all with its clean label;
* **decision**: the most probable width.

The model is a small JSON file (``autodip/data/width_predictor.json``) written by
``autodip train-width``, with its provenance; ``benchmarks/architecture_cv.py`` evaluates it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from autodip.analysis.texture import FEATURE_NAMES, PREFILTER_PX_PER_SIGMA, robust_texture_features

__all__ = [
    "DEPTH",
    "TRAIN_SIGMAS",
    "UPSAMPLE",
    "WIDTHS",
    "WidthModel",
    "choose_architecture",
    "fit_width_model",
    "load_width_model",
    "macro_auc",
    "micro_auc",
    "predict_width",
    "read_width_labels",
    "roc_auc",
    "stratified_folds",
    "train_width_model",
    "training_features",
]

#: The widths the classifier chooses from (Liu et al.).
WIDTHS = (32, 64, 128)
#: The hourglass the width is for: 2 levels, bilinear upsampling (Liu et al.'s "ours").
DEPTH = 2
UPSAMPLE = "bilinear"
#: Noise levels (0–255 scale) of the training copies of each image; 0 is the clean image.
#: They avoid 15, 25 and 50 so that the benchmark measures noise levels between them.
TRAIN_SIGMAS = (0, 5, 10, 20, 30, 40, 60, 80)
#: L2 strength α on the standardised features' weights (fixed, not tuned on the labels).
DEFAULT_ALPHA = 0.01
#: File format version of the model JSON.
FORMAT = 1
_NEWTON_MAX_STEPS = 100
_NEWTON_TOLERANCE = 1e-10


@dataclass(frozen=True)
class WidthModel:
    """A multinomial logistic regression from texture features to a width.

    ``P(width_k | x) = softmax((x - mean) / scale @ coef + intercept)_k``.
    """

    classes: tuple[int, ...]
    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    alpha: float = DEFAULT_ALPHA
    provenance: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (``n×K``) of feature rows ``features`` (``n×d``, or one row)."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if x.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected {len(self.feature_names)} features per row, got {x.shape[1]}"
            )
        return _softmax(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def probabilities(self, features: dict[str, float]) -> dict[int, float]:
        """``{width: probability}`` for one image's feature dict."""
        row = [features[name] for name in self.feature_names]
        proba = self.predict_proba(np.array(row))[0]
        return {int(c): float(p) for c, p in zip(self.classes, proba, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the model (see :meth:`from_dict`)."""
        return {
            "format": FORMAT,
            "kind": "multinomial-logistic-regression",
            "classes": list(self.classes),
            "feature_names": list(self.feature_names),
            "feature_extractor": "autodip.analysis.texture.robust_texture_features",
            "prefilter_px_per_sigma": PREFILTER_PX_PER_SIGMA,
            "standardise": {"mean": self.mean.tolist(), "scale": self.scale.tolist()},
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "alpha": self.alpha,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WidthModel:
        """Rebuild a model from :meth:`to_dict`'s output; raises ``ValueError`` if malformed."""
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown width-model format {data.get('format')!r}")
            model = cls(
                classes=tuple(int(c) for c in data["classes"]),
                feature_names=tuple(data["feature_names"]),
                mean=np.asarray(data["standardise"]["mean"], dtype=np.float64),
                scale=np.asarray(data["standardise"]["scale"], dtype=np.float64),
                coef=np.asarray(data["coef"], dtype=np.float64),
                intercept=np.asarray(data["intercept"], dtype=np.float64),
                alpha=float(data.get("alpha", DEFAULT_ALPHA)),
                provenance=dict(data.get("provenance", {})),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"malformed width model: {error!r}") from None
        d, k = len(model.feature_names), len(model.classes)
        shapes_ok = (
            model.mean.shape == (d,)
            and model.scale.shape == (d,)
            and model.coef.shape == (d, k)
            and model.intercept.shape == (k,)
        )
        if not shapes_ok or not set(model.feature_names) <= set(FEATURE_NAMES):
            raise ValueError("malformed width model: shapes or feature names do not match")
        return model


def fit_width_model(
    features: np.ndarray,
    widths: Sequence[int],
    *,
    alpha: float = DEFAULT_ALPHA,
    feature_names: Sequence[str] = FEATURE_NAMES,
    classes: Sequence[int] = WIDTHS,
    provenance: dict[str, Any] | None = None,
) -> WidthModel:
    r"""Fit the L2-penalised multinomial logistic regression by Newton's method.

    Parameters
    ----------
    features : numpy.ndarray
        ``n×d`` feature rows (columns in the order of ``feature_names``).
    widths : sequence of int
        The label of each row, one of ``classes``.
    alpha : float
        The penalty :math:`\alpha` on the weights of the standardised features (the intercepts
        are not penalised).
    feature_names, classes
        Column names and the label set (every class should occur).
    provenance : dict, optional
        Stored with the model.

    Returns
    -------
    WidthModel

    Examples
    --------
    >>> x = np.array([[0.0], [0.1], [1.0], [1.1], [2.0], [2.1]])
    >>> model = fit_width_model(x, [32, 32, 64, 64, 128, 128], feature_names=["psd_r75"])
    >>> [int(c) for c in np.array(model.classes)[model.predict_proba(x).argmax(1)]]
    [32, 32, 64, 64, 128, 128]
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(widths)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[1] != len(feature_names):
        raise ValueError(
            f"features must be n×{len(feature_names)} with one width per row, "
            f"got {x.shape} and {y.shape[0]} widths"
        )
    unknown = sorted(set(y.tolist()) - set(classes))
    if unknown:
        raise ValueError(f"widths {unknown} are not among the classes {list(classes)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features contain NaN or infinity")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    onehot = (y[:, None] == np.asarray(classes)[None, :]).astype(np.float64)
    coef, intercept = _newton_logistic((x - mean) / scale, onehot, alpha)
    return WidthModel(
        classes=tuple(int(c) for c in classes),
        feature_names=tuple(feature_names),
        mean=mean,
        scale=scale,
        coef=coef,
        intercept=intercept,
        alpha=float(alpha),
        provenance=dict(provenance or {}),
    )


def _newton_logistic(
    z: np.ndarray, onehot: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the mean softmax cross-entropy + ``α/2‖W‖²`` by damped Newton steps.

    The softmax is unchanged by adding a constant to every intercept, so the intercepts get a
    vanishing ridge (1e-9) that makes the Hessian invertible without moving the optimum.
    """
    n, d = z.shape
    k = onehot.shape[1]
    design = np.hstack([z, np.ones((n, 1))])  # n × (d+1)
    ridge = np.full(d + 1, float(alpha))
    ridge[-1] = 1e-9
    theta = np.zeros((d + 1, k))

    def objective(t: np.ndarray) -> float:
        logits = design @ t
        log_p = logits - _logsumexp(logits)
        return float(-(onehot * log_p).sum() / n + 0.5 * (ridge[:, None] * t**2).sum())

    value = objective(theta)
    for _ in range(_NEWTON_MAX_STEPS):
        p = _softmax(design @ theta)
        grad = design.T @ (p - onehot) / n + ridge[:, None] * theta
        if np.max(np.abs(grad)) < _NEWTON_TOLERANCE:
            break
        # Hessian of the mean cross-entropy: Σ_i (diag p_i − p_i p_iᵀ) ⊗ a_i a_iᵀ / n, with the
        # parameters ordered class-major (all of class 0's weights, then class 1's, ...).
        hessian = np.zeros((k * (d + 1), k * (d + 1)))
        for a in range(k):
            for b in range(a, k):
                weight = p[:, a] * ((a == b) - p[:, b])
                block = (design * weight[:, None]).T @ design / n
                hessian[a * (d + 1) : (a + 1) * (d + 1), b * (d + 1) : (b + 1) * (d + 1)] = block
                hessian[b * (d + 1) : (b + 1) * (d + 1), a * (d + 1) : (a + 1) * (d + 1)] = block.T
        hessian += np.diag(np.tile(ridge, k))
        step = np.linalg.solve(hessian, grad.T.ravel()).reshape(k, d + 1).T
        size = 1.0
        while size > 1e-8:  # backtracking keeps every step a descent step
            candidate = theta - size * step
            new_value = objective(candidate)
            if new_value <= value:
                break
            size *= 0.5
        else:
            break
        converged = value - new_value < _NEWTON_TOLERANCE * max(1.0, abs(value))
        theta, value = candidate, new_value
        if converged:
            break
    return theta[:d], theta[d]


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=1, keepdims=True)
    return top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def _softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(logits - _logsumexp(logits))


def default_model_path() -> Path:
    """The model file shipped with autodip (``autodip/data/width_predictor.json``)."""
    return Path(str(resources.files("autodip") / "data" / "width_predictor.json"))


_LOADED: dict[Path, WidthModel] = {}


def load_width_model(path: str | Path | None = None) -> WidthModel:
    """Load a width model from JSON (default: the shipped one); cached per path.

    Raises
    ------
    ValueError
        If the file is missing, is not JSON or does not describe a width model.
    """
    target = Path(path) if path is not None else default_model_path()
    if target in _LOADED:
        return _LOADED[target]
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"width model '{target}' does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"width model '{target}' is not JSON ({_where(error)})") from None
    except OSError as error:
        raise ValueError(f"cannot read width model '{target}': {error.strerror or error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"width model '{target}' is not a JSON object")
    model = WidthModel.from_dict(data)
    _LOADED[target] = model
    return model


def _where(error: UnicodeDecodeError | json.JSONDecodeError) -> str:
    """Where a file stopped being JSON, in words."""
    if isinstance(error, UnicodeDecodeError):
        return f"byte {error.start} is not UTF-8 text"
    return f"{error.msg} at line {error.lineno}, column {error.colno}"


def predict_width(
    image: np.ndarray, model: WidthModel | None = None
) -> tuple[int, dict[int, float], dict[str, float]]:
    """Predict the hourglass width for an image from its (noise-robust) texture features.

    Parameters
    ----------
    image : numpy.ndarray
        ``H×W`` or ``C×H×W`` floating-point pixels in [0, 1] (noisy or clean), at least 8×8.
    model : WidthModel, optional
        Default: the shipped model (:func:`load_width_model`).

    Returns
    -------
    width : int
        The most probable of :data:`WIDTHS`.
    probabilities : dict of int to float
        ``{32: p, 64: p, 128: p}``.
    features : dict of str to float
        :func:`autodip.analysis.texture.robust_texture_features` of the image (with
        ``noise_sigma``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> width, probabilities, features = predict_width(rng.random((1, 64, 64)))
    >>> width in WIDTHS and abs(sum(probabilities.values()) - 1) < 1e-9
    True
    """
    model = model or load_width_model()
    features = robust_texture_features(image)
    probabilities = model.probabilities(features)
    width = max(probabilities, key=lambda c: probabilities[c])
    return width, probabilities, features


def choose_architecture(
    image: np.ndarray, model: WidthModel | None = None, model_path: str | Path | None = None
) -> dict[str, Any]:
    """The network ``--net auto`` runs on ``image``, with the evidence, as JSON-able data.

    Returns
    -------
    dict
        ``net`` ("hourglass"), ``options`` (``width``, ``depth``, ``upsample`` for
        :func:`autodip.nets.create_net`), ``width``, ``probabilities`` (keys "32", "64",
        "128"), ``features`` and ``model`` (the model file and its training provenance).
    """
    if model is None:
        model = load_width_model(model_path)
    width, probabilities, features = predict_width(image, model)
    provenance = model.provenance
    return {
        "mode": "auto",
        "net": "hourglass",
        "width": width,
        "options": {"width": width, "depth": DEPTH, "upsample": UPSAMPLE},
        "probabilities": {str(c): p for c, p in probabilities.items()},
        "features": features,
        "model": {
            "file": str(model_path) if model_path is not None else default_model_path().name,
            "trained": provenance.get("date"),
            "labels": provenance.get("labels", {}).get("variant"),
            "training_sigmas": provenance.get("training_noise", {}).get("sigmas"),
        },
    }


# --- training -----------------------------------------------------------------------------------


def read_width_labels(
    labels_csv: str | Path, data_dir: str | Path, variant: str = "NoRepeat"
) -> list[tuple[str, Path, int]]:
    """``(image as written in the CSV, resolved path, width)`` rows of one ``variant``.

    The CSV has the columns ``variant,width_label,image,...``; ``image`` is relative to
    ``data_dir``. Raises ``ValueError`` for a missing file, column or image, or an unknown width.
    """
    labels_csv, data_dir = Path(labels_csv), Path(data_dir)
    try:
        with labels_csv.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise ValueError(f"cannot read labels '{labels_csv}': {error.strerror or error}") from None
    if not rows or not {"variant", "width_label", "image"} <= set(rows[0]):
        raise ValueError(f"'{labels_csv}' needs the columns variant, width_label and image")
    out = []
    for row in rows:
        if row["variant"] != variant:
            continue
        width = int(row["width_label"])
        if width not in WIDTHS:
            raise ValueError(f"'{labels_csv}': width {width} is not one of {list(WIDTHS)}")
        path = data_dir / row["image"]
        if not path.is_file():
            raise ValueError(f"'{labels_csv}': image '{row['image']}' not found under {data_dir}")
        out.append((row["image"], path, width))
    if not out:
        raise ValueError(f"'{labels_csv}' has no rows of variant {variant!r}")
    return out


def noise_seed(name: str, sigma: float, seed: int = 0) -> int:
    """The seed of the noisy copy of image ``name`` at level ``sigma`` (order-independent)."""
    return zlib.crc32(f"{seed}:{name}:{sigma:g}".encode())


def training_features(
    labels: Sequence[tuple[str, Path, int]],
    sigmas: Sequence[float] = TRAIN_SIGMAS,
    *,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict[float, np.ndarray]:
    """Robust features (``n×d``, rows in ``labels`` order) of each image at each noise level.

    Gaussian noise of level σ (0–255 scale, clipped to [0, 1]) is drawn with
    :func:`noise_seed`; σ = 0 is the clean image.
    """
    from autodip.io import read_image
    from autodip.physics.noise import add_gaussian_noise

    table = {float(s): np.zeros((len(labels), len(FEATURE_NAMES))) for s in sigmas}
    for i, (name, path, _) in enumerate(labels):
        clean, _ = read_image(path)
        for sigma in sigmas:
            image = (
                clean
                if sigma == 0
                else add_gaussian_noise(clean, sigma, noise_seed(name, sigma, seed))
            )
            features = robust_texture_features(image)
            table[float(sigma)][i] = [features[f] for f in FEATURE_NAMES]
        if log is not None and (i + 1) % 10 == 0:
            log(f"features of {i + 1}/{len(labels)} images")
    return table


def train_width_model(
    labels_csv: str | Path,
    data_dir: str | Path,
    *,
    sigmas: Sequence[float] = TRAIN_SIGMAS,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    command: str = "",
    log: Callable[[str], None] | None = None,
) -> WidthModel:
    """Train the width model on the ``NoRepeat`` labels of ``labels_csv``.

    Each image contributes one row per noise level in ``sigmas`` (0 = clean), all with the image's
    label; the fit weighs every row equally. The returned model's provenance records the command,
    date, label file (with its SHA-256), class counts, features, training noise and penalty.
    """
    from autodip import __version__

    labels = read_width_labels(labels_csv, data_dir)
    widths = np.array([w for _, _, w in labels])
    missing = [w for w in WIDTHS if w not in widths]
    if missing:
        raise ValueError(f"no training image is labelled {missing}; every width needs examples")
    table = training_features(labels, sigmas, seed=seed, log=log)
    x = np.concatenate([table[float(s)] for s in sigmas])
    y = np.tile(widths, len(sigmas))
    digest = hashlib.sha256(Path(labels_csv).read_bytes()).hexdigest()
    provenance = {
        "command": command,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "autodip": __version__,
        "labels": {
            "file": Path(labels_csv).name,
            "sha256": digest,
            "variant": "NoRepeat",
            "images": len(labels),
            "counts": {str(w): int((widths == w).sum()) for w in WIDTHS},
            "wRepeat": "not used for training (benchmarks/architecture_cv.py uses it for a "
            "lenient accuracy)",
        },
        "features": list(FEATURE_NAMES),
        "training_noise": {
            "kind": "gaussian, 0-255 scale, clipped to [0, 1], not quantised",
            "sigmas": [float(s) for s in sigmas],
            "seed": seed,
            "seeds": "zlib.crc32(f'{seed}:{image}:{sigma:g}')",
        },
        "rows": int(x.shape[0]),
    }
    return fit_width_model(x, y, alpha=alpha, provenance=provenance)


# --- evaluation helpers -------------------------------------------------------------------------


def roc_auc(positive: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    r"""Area under the ROC curve by the rank statistic (Mann–Whitney U), ties counted half.

    :math:`\mathrm{AUC} = (R_+ - n_+(n_+ + 1)/2) / (n_+ n_-)`, with :math:`R_+` the sum of the
    positives' ranks among all scores (tied scores share their mean rank).

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([1, 0], [0.5, 0.5])
    0.5
    """
    pos = np.asarray(positive, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if pos.shape != s.shape:
        raise ValueError(f"{pos.size} labels but {s.size} scores")
    n_pos = int(pos.sum())
    n_neg = pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    # Mean 1-based rank of each run of tied scores.
    starts = np.flatnonzero(np.concatenate([[True], sorted_s[1:] != sorted_s[:-1]]))
    ends = np.concatenate([starts[1:], [s.size]])
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def micro_auc(
    labels: Sequence[int], probabilities: np.ndarray, classes: Sequence[int] = WIDTHS
) -> float:
    """Micro-average one-vs-rest AUC: one ROC over all (image, class) pairs.

    Every image contributes K scores (its probability of each class), positive for its own class.
    Note that this rewards ranking frequent classes high: predicting the class frequencies for
    every image already scores well above 0.5 on an unbalanced set.

    Examples
    --------
    >>> micro_auc([32, 64], np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]]))
    1.0
    """
    onehot = np.asarray(labels)[:, None] == np.asarray(classes)[None, :]
    return roc_auc(onehot.ravel(), np.asarray(probabilities).ravel())


def macro_auc(
    labels: Sequence[int], probabilities: np.ndarray, classes: Sequence[int] = WIDTHS
) -> float:
    """Mean over classes of the one-vs-rest AUC of that class's probability."""
    onehot = np.asarray(labels)[:, None] == np.asarray(classes)[None, :]
    p = np.asarray(probabilities)
    return float(np.mean([roc_auc(onehot[:, k], p[:, k]) for k in range(len(classes))]))


def stratified_folds(labels: Sequence[int], folds: int = 5, seed: int = 0) -> np.ndarray:
    """Assign each item a fold in ``0 … folds-1`` so that every class is spread evenly.

    Within each class (in sorted order) the items are shuffled with ``seed`` and dealt to the
    folds in turn, starting at a random fold, so class counts per fold differ by at most one.
    """
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    assignment = np.empty(y.size, dtype=np.int64)
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        rng.shuffle(members)
        start = int(rng.integers(folds))
        assignment[members] = (np.arange(members.size) + start) % folds
    return assignment
