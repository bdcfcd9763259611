"""What a benchmark sweep is: images × degradations × networks × seeds, and its runs.

A :class:`Sweep` is written as command-line flags or a JSON/YAML file with the same keys::

    {"images": ["../shared/data/set9", "../shared/data/cbsd68/1*.png"], "crop": 128,
     "degradations": ["gaussian:15,25,50"], "networks": ["hourglass", "hourglass:width=128"],
     "criteria": ["cifs", "wmv", "emv", "osc"], "iters": 3000, "seeds": [0],
     "patience": [300, 500, 1000], "baselines": ["tv", "nlm", "wavelet", "telea", "bicubic"]}

:func:`expand` turns it into :class:`Job` objects — one DIP trajectory per (image, degradation,
network, seed), one more for OSC when it is asked for (OSC changes the objective), and one baseline
job per (image, degradation) and baseline of that degradation's task (:data:`BASELINE_TASK`: the
denoisers for ``gaussian`` and ``poisson``, the inpainters for ``inpaint``, the upscalers for
``sr``; the names are those of :data:`autodip.bench.baselines.TASK_BASELINES`). Each job's
:attr:`Job.key` hashes its full configuration, so a finished job is found again in the cache
and a sweep can be stopped and continued. Noise is synthesised with a seed derived from (image,
degradation, seed) alone (:func:`noise_seed`), so any row can be reproduced by itself.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from autodip import defaults
from autodip.io.write import IMAGE_SUFFIXES

#: Bump when the meaning of a cached result changes (invalidates every cache entry).
CACHE_VERSION = 1
DEGRADATION_KINDS = ("gaussian", "poisson", "sr", "inpaint", "real")
#: The naming of real-noise datasets (CC15, PolyU): ``X_real.png`` is the noisy shot, ``X_mean.png``
#: the mean of many shots of the same scene, the reference it is scored against.
REAL_NOISY_SUFFIX, REAL_REFERENCE_SUFFIX = "_real", "_mean"
#: The range of each integer setting (lists: of each item); counts stop at C's 32-bit int and
#: seeds at what the runner's generators take, as on the command line.
SETTING_RANGES = {
    "iters": (1, 2**31 - 1),
    "crop": (1, 2**31 - 1),
    "monitor_every": (1, 2**31 - 1),
    "patience": (1, 2**31 - 1),
    "seeds": (0, 2**63 - 1),
}
#: The values a text setting may take.
SETTING_CHOICES = {"precision": ("auto", "fp32", "bf16")}
#: List settings that must name at least one item.
NON_EMPTY_SETTINGS = ("images", "degradations", "networks", "seeds", "patience")
#: The task of each degradation, i.e. which registry of `autodip.bench.baselines` applies to it.
BASELINE_TASK = {
    "gaussian": "denoise",
    "poisson": "denoise",
    "real": "denoise",
    "inpaint": "inpaint",
    "sr": "sr",
}


@dataclass(frozen=True)
class Degradation:
    """One degradation: ``gaussian`` (σ on 0–255), ``poisson`` (peak scale), ``sr`` (factor),
    ``inpaint`` (fraction of pixels dropped at random) or ``real`` (no level: the image *is* a noisy
    camera shot, scored against its reference, see :func:`real_reference`).
    """

    kind: str
    level: float

    @property
    def label(self) -> str:
        """E.g. ``gaussian:25``, or ``real``."""
        return "real" if self.kind == "real" else f"{self.kind}:{self.level:g}"


@dataclass
class Sweep:
    """A benchmark sweep (see the module docstring for the file form)."""

    images: list[str]
    degradations: list[str] = field(default_factory=lambda: [defaults.BENCH_DEGRADATION])
    networks: list[str] = field(default_factory=lambda: [defaults.DEFAULT_NET])
    criteria: list[str] = field(default_factory=lambda: list(defaults.BENCH_CRITERIA))
    iters: int = defaults.BENCH_ITERS
    seeds: list[int] = field(default_factory=lambda: [defaults.SEED])
    crop: int | None = None
    gray: bool = False
    patience: list[int] = field(default_factory=lambda: [defaults.BENCH_PATIENCE])
    monitor_every: int = defaults.MONITOR_EVERY
    precision: str = defaults.PRECISION
    device: str = defaults.DEVICE
    baselines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_settings(asdict(self))

    @classmethod
    def from_file(cls, path: Path) -> Sweep:
        """Read a JSON (or, with PyYAML installed, YAML) sweep file."""
        return cls(**cls.read_settings(path, complete=True))

    @staticmethod
    def read_settings(path: Path, complete: bool = False) -> dict[str, Any]:
        """The settings of a sweep file, checked (:func:`check_settings`) but not completed:
        the command line adds its flags to them (``complete``: the file must name the images).
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise ValueError(f"cannot read '{path}': {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise ValueError(f"'{path}' is not a text file") from None
        if Path(path).suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml
            except ModuleNotFoundError:
                raise ValueError(
                    f"{path}: reading YAML needs PyYAML (pip install pyyaml); or write JSON"
                ) from None
            data = yaml.safe_load(text)
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"'{path}' is not JSON ({error.msg} at line {error.lineno}, column "
                    f"{error.colno})"
                ) from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a sweep file holds one mapping of settings")
        try:
            check_settings(data, complete)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        return data

    def to_dict(self) -> dict[str, Any]:
        """The sweep as plain data."""
        return asdict(self)


def check_settings(settings: dict[str, Any], complete: bool = True) -> None:
    """Raise ``ValueError`` listing every problem of a sweep's settings, in one line.

    Checked: unknown names (with the closest known one), each value's type from the fields of
    :class:`Sweep`, integer ranges (:data:`SETTING_RANGES`), text choices
    (:data:`SETTING_CHOICES`) and empty lists (:data:`NON_EMPTY_SETTINGS`). Names of images,
    networks, criteria and baselines are checked by :func:`expand`, also before any run.

    Examples
    --------
    >>> check_settings({"images": ["a.png"], "iters": "lots", "seed": [1]})
    Traceback (most recent call last):
    ...
    ValueError: unknown settings seed (did you mean 'seeds'?); iters must be an integer from 1 to 2147483647, got 'lots'
    """  # noqa: E501 - a doctest line
    fields = get_type_hints(Sweep)
    problems = []
    unknown = [name for name in settings if name not in fields]
    if unknown:
        named = [_with_suggestion(name, list(fields)) for name in unknown]
        problems.append(f"unknown settings {', '.join(named)}")
    if complete and "images" not in settings:
        problems.append("images must name the images (folders, globs or files)")
    for name, value in settings.items():
        problem = _setting_problem(name, value, fields[name]) if name in fields else None
        if problem:
            problems.append(problem)
    if problems:
        raise ValueError("; ".join(problems))


def _with_suggestion(name: str, known: list[str]) -> str:
    close = get_close_matches(name, known, n=1)
    return f"{name} (did you mean {close[0]!r}?)" if close else name


def _setting_problem(name: str, value: Any, hint: Any) -> str | None:
    """What is wrong with ``name = value`` for a field typed ``hint`` (``None``: nothing)."""
    options = get_args(hint)
    if type(None) in options:  # an optional setting: null is allowed
        if value is None:
            return None
        hint = next(option for option in options if option is not type(None))
    if get_origin(hint) is list:
        item = get_args(hint)[0]
        if not isinstance(value, list) or not all(_fits(name, v, item) for v in value):
            return f"{name} must be a list of {_expected(name, item, plural=True)}, got {value!r}"
        if not value and name in NON_EMPTY_SETTINGS:
            return f"{name} must not be empty"
        return None
    if not _fits(name, value, hint):
        return f"{name} must be {_expected(name, hint)}, got {value!r}"
    return None


def _fits(name: str, value: Any, kind: type) -> bool:
    """Whether one value has the type ``kind`` and lies in the setting's range or choices."""
    if kind is int:
        low, high = SETTING_RANGES.get(name, (-math.inf, math.inf))
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if kind is str and name in SETTING_CHOICES:
        return value in SETTING_CHOICES[name]
    return isinstance(value, kind)


def _expected(name: str, kind: type, plural: bool = False) -> str:
    """What a setting's values must be, in words: 'an integer from 1 to 10', 'strings', ..."""
    if kind is int:
        words = "integers" if plural else "an integer"
        if name in SETTING_RANGES:
            words += " from {} to {}".format(*SETTING_RANGES[name])
        return words
    if kind is str and name in SETTING_CHOICES:
        return f"{'' if plural else 'one of '}{', '.join(SETTING_CHOICES[name])}"
    return {str: "strings" if plural else "a string", bool: "true or false"}[kind]


@dataclass(frozen=True)
class Job:
    """One unit of work: a DIP trajectory or a baseline.

    ``kind`` is ``"dip"`` (one run recording every objective-preserving criterion), the name of a
    criterion that changes the objective (``"osc"``, ``"holdout"``: a run of its own), or
    ``"baseline"``.
    """

    kind: str
    image: str
    degradation: Degradation
    seed: int
    crop: int | None
    gray: bool
    iters: int = 0
    network: str = ""
    criteria: tuple[str, ...] = ()
    monitor_every: int = 10
    precision: str = "auto"
    device: str = "auto"
    baseline: str = ""

    @property
    def key(self) -> str:
        """A hash of everything that determines the job's result."""
        payload = {**asdict(self), "version": CACHE_VERSION}
        payload.pop("device")  # where it ran does not change what it is
        text = json.dumps(payload, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def name(self) -> str:
        """A readable label for logs."""
        what = self.baseline if self.kind == "baseline" else f"{self.kind}:{self.network}"
        return f"{Path(self.image).name} {self.degradation.label} {what} seed {self.seed}"


def parse_degradations(specs: list[str]) -> list[Degradation]:
    """``["gaussian:15,25", "sr:4"]`` → degradations, one per level.

    Examples
    --------
    >>> [d.label for d in parse_degradations(["gaussian:15,25", "poisson:0.1", "real"])]
    ['gaussian:15', 'gaussian:25', 'poisson:0.1', 'real']
    """
    out = []
    for spec in specs:
        kind, _, levels = spec.partition(":")
        kind = kind.strip().lower()
        if kind == "real":
            if levels:
                raise ValueError(f"bad degradation {spec!r}: real noise has no level, write real")
            out.append(Degradation("real", 0.0))
            continue
        if kind not in DEGRADATION_KINDS or not levels:
            raise ValueError(
                f"bad degradation {spec!r}: write KIND:LEVEL[,LEVEL…] with KIND one of "
                f"{', '.join(DEGRADATION_KINDS[:-1])}; or real (noisy shots X_real.png "
                "with references X_mean.png)"
            )
        for level in levels.split(","):
            try:
                value = float(level)
            except ValueError:
                raise ValueError(f"bad level {level!r} in {spec!r}") from None
            if not value > 0:
                raise ValueError(f"levels must be positive, got {level!r} in {spec!r}")
            out.append(Degradation(kind, value))
    return out


def find_images(patterns: list[str]) -> list[str]:
    """The image files named by folders, globs or paths (sorted, no duplicates)."""
    found: set[str] = set()
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found.update(str(p) for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.add(str(path))
        else:
            matches = [p for p in glob.glob(pattern) if Path(p).suffix.lower() in IMAGE_SUFFIXES]
            if not matches:
                raise ValueError(f"no images match {pattern!r}")
            found.update(matches)
    return sorted(found)


def real_reference(image: str) -> str:
    """The reference of a real noisy shot: ``X_real.png`` → ``X_mean.png`` (CC15's naming).

    Examples
    --------
    >>> real_reference("../shared/data/cc15/d800_iso1600_1_real.png")
    '../shared/data/cc15/d800_iso1600_1_mean.png'
    >>> real_reference("photo.png")
    Traceback (most recent call last):
    ...
    ValueError: photo.png: real noise needs noisy shots named X_real.* with references X_mean.*
    """
    path = Path(image)
    if not path.stem.endswith(REAL_NOISY_SUFFIX):
        raise ValueError(
            f"{image}: real noise needs noisy shots named X{REAL_NOISY_SUFFIX}.* with references "
            f"X{REAL_REFERENCE_SUFFIX}.*"
        )
    stem = path.stem[: -len(REAL_NOISY_SUFFIX)] + REAL_REFERENCE_SUFFIX
    return str(path.with_name(stem + path.suffix))


def noise_seed(image: str, degradation: Degradation, seed: int) -> int:
    """The noise seed of (image, degradation, seed): stable across runs and machines."""
    text = f"{Path(image).name}|{degradation.label}|{seed}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def expand(sweep: Sweep) -> list[Job]:
    """Every job of ``sweep``: baselines first (they are quick), then the DIP runs network by
    network in the sweep's order, and for each network its plain trajectories before the runs of
    criteria that change the objective.
    """
    from autodip.stopping import list_criteria

    known = list_criteria()
    _check_names(sweep, known)
    images = find_images(sweep.images)
    degradations = parse_degradations(sweep.degradations)
    if any(d.kind == "real" for d in degradations):
        _check_real_references(images)
    monitored = tuple(c for c in sweep.criteria if not known[c].changes_objective)
    own_runs = tuple(c for c in sweep.criteria if known[c].changes_objective)
    common = {"crop": sweep.crop, "gray": sweep.gray}
    jobs = _baseline_jobs(sweep, images, degradations)
    # networks outermost, then the kind of run: the first-listed network's plain trajectories
    # complete on every image first, so a sweep cut short across sessions still answers for it
    for network in sweep.networks:
        for kind in ("dip", *own_runs):  # OSC, holdout: each fits its own objective
            for image in images:
                for degradation in degradations:
                    for seed in sweep.seeds:
                        run = {"iters": sweep.iters, "network": network, "seed": seed,
                               "monitor_every": sweep.monitor_every,
                               "precision": sweep.precision, "device": sweep.device,
                               **common}  # fmt: skip
                        criteria = monitored if kind == "dip" else (kind,)
                        jobs.append(Job(kind, image, degradation, criteria=criteria, **run))
    return jobs


def _check_real_references(images: list[str]) -> None:
    """Refuse real-noise images without their reference file (before any job runs)."""
    for image in images:
        reference = real_reference(image)
        if not Path(reference).is_file():
            raise ValueError(f"{image}: its reference {reference} is missing (real noise)")


def _check_names(sweep: Sweep, criteria: dict[str, Any]) -> None:
    """Refuse criteria and networks no registry knows (before any job runs)."""
    from autodip.nets import list_nets

    for name in sweep.criteria:
        if name not in criteria:
            raise ValueError(f"unknown criterion {name!r}; known: {', '.join(criteria)}")
    for spec in sweep.networks:
        if spec.partition(":")[0] not in list_nets():
            raise ValueError(f"unknown network {spec!r}; see `autodip list nets`")


def _baseline_jobs(sweep: Sweep, images: list[str], degradations: list[Degradation]) -> list[Job]:
    """One job per image, degradation and baseline of the degradation's task."""
    tasks = baseline_tasks(sweep.baselines)
    common = {"crop": sweep.crop, "gray": sweep.gray}
    return [
        Job("baseline", image, degradation, 0, baseline=baseline, **common)
        for image in images
        for degradation in degradations
        for baseline in sweep.baselines
        if tasks[baseline] == BASELINE_TASK[degradation.kind]
    ]


def baseline_tasks(names: list[str]) -> dict[str, str]:
    """The task of each baseline name (``"denoise"``, ``"inpaint"`` or ``"sr"``).

    Raises
    ------
    ValueError
        For a name no registry of :mod:`autodip.bench.baselines` holds; it lists close matches and
        every name by task.

    Examples
    --------
    >>> baseline_tasks(["nlm", "telea", "lanczos"])
    {'nlm': 'denoise', 'telea': 'inpaint', 'lanczos': 'sr'}
    """
    from difflib import get_close_matches

    from autodip.bench.baselines import TASK_BASELINES

    known = {name: task for task, registry in TASK_BASELINES.items() for name in registry}
    for name in names:
        if name not in known:
            close = get_close_matches(str(name), known, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            listed = "; ".join(f"{t}: {', '.join(sorted(r))}" for t, r in TASK_BASELINES.items())
            raise ValueError(f"unknown baseline {name!r}.{hint} Known ({listed})")
    return {name: known[name] for name in names}


def parse_network(spec: str) -> tuple[str, dict[str, Any]]:
    """``"hourglass:width=128,upsample=lpf60"`` → ``("hourglass", {"width": 128, ...})``.

    Examples
    --------
    >>> parse_network("hourglass:width=128,upsample=lpf60")
    ('hourglass', {'width': 128, 'upsample': 'lpf60'})
    """
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"bad network option {item!r} in {spec!r}: write key=value")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value.strip()
    return name, options
