"""A run's report as one self-contained web page: ``report.html``.

The page shows the input, the result and (when given) the reference side by side with a zoomed
crop of each, the criteria curves (``curves.png``), the chosen network and why, the task's
defaults, the timings, the placement and the software versions. Everything is inside the one
file — images are base64 PNG ``data:`` URIs and the style sheet is inline — so it can be mailed,
archived or opened offline; there is no JavaScript.

:func:`summary_paragraph` is the page's opening paragraph as plain text; the command line prints
the same paragraph at the end of a run.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autodip.core.validation import as_chw

__all__ = ["summary_paragraph", "write_html_report"]

MAX_DISPLAY_SIDE = 1024
"""Images larger than this (pixels, on either side) are downscaled for display."""

_MIN_DISPLAY_SIDE = 320  # small images are enlarged on the page (CSS, nearest neighbour) to this
_MAX_CROP_SIDE = 256
_MIN_CROP_SIDE = 8
_MAX_LIST_ITEMS = 16
_TASK_NAMES = {"denoise": "Denoising", "inpaint": "Inpainting", "sr": "Super-resolution"}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 78em; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; }
p.summary { font-size: 1.05em; background: #f6f8fa; padding: 0.8em 1em; border-radius: 6px; }
.row { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
figure { margin: 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #ccc; }
img.pixelated { image-rendering: pixelated; image-rendering: crisp-edges; }
figcaption { font-size: 0.9em; color: #444; max-width: 30em; }
p.note { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.value { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2.5em; }
"""


def write_html_report(
    path: Path,
    record: dict[str, Any],
    input_image: np.ndarray,
    result_image: np.ndarray,
    reference: np.ndarray | None = None,
    curves_png: bytes | None = None,
    uncertainty_png: bytes | None = None,
) -> None:
    """Write a run's report as one self-contained HTML page, atomically.

    Parameters
    ----------
    path : pathlib.Path
        The file to write (normally ``<report dir>/report.html``); an existing file is replaced
        and missing parent folders are created.
    record : dict
        The run's record, as the command line writes to ``report.json`` (keys ``command``,
        ``input``, ``output``, ``reference``, ``config``, ``environment``, ``timings``,
        ``result``, ``criteria``, ``architecture``, ``metrics``, ...). Every key is optional: a
        record from an older run, or one without criteria, gives a shorter page.
    input_image : numpy.ndarray
        The degraded input, float ``C×H×W`` (or ``H×W``) in [0, 1]. It may be smaller than the
        result (super-resolution): it is then shown enlarged to the result's size by nearest
        neighbour.
    result_image : numpy.ndarray
        The restored image, float ``C×H×W`` (or ``H×W``) in [0, 1].
    reference : numpy.ndarray, optional
        The clean image, of the result's shape.
    curves_png : bytes, optional
        The PNG made by :func:`autodip.reporting.files.plot_curves` (loss, PSNR and criteria per
        step, with the returned step marked), embedded as it is.
    uncertainty_png : bytes, optional
        An ensemble's map of where its members disagree, with its colour bar
        (:func:`autodip.reporting.files.plot_uncertainty`), embedded as it is in an
        "Uncertainty" section beside the members' table.

    Raises
    ------
    ValueError
        If an image is not ``C×H×W`` (or ``H×W``) with at least one pixel, if ``reference`` and
        ``result_image`` differ in shape, or if ``curves_png`` is not a PNG.

    Notes
    -----
    Images with 1 channel are shown in gray, with 3 in colour, with any other number as the
    gray mean of their channels (the page says so). Values are clipped to [0, 1] and NaN shows
    as black. Images larger than :data:`MAX_DISPLAY_SIDE` pixels on a side are downscaled for
    display; the zoomed crops always show the result's own pixels.
    """
    result = _as_chw(result_image, "result_image")
    degraded = _as_chw(input_image, "input_image")
    clean = None
    if reference is not None:
        clean = _as_chw(reference, "reference")
        if clean.shape != result.shape:
            raise ValueError(
                f"reference has shape {clean.shape} but result_image has {result.shape} "
                "(C×H×W); they must match"
            )
    for what, png in (("curves_png", curves_png), ("uncertainty_png", uncertainty_png)):
        if png is not None and not bytes(png).startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError(f"{what} is not a PNG file (wrong signature)")
    record = record if isinstance(record, Mapping) else {}
    page = _page(record, degraded, result, clean, curves_png, uncertainty_png)
    from autodip.reporting.files import _atomic_write_bytes

    _atomic_write_bytes(Path(path), page.encode("utf-8"))


def summary_paragraph(record: dict[str, Any]) -> str:
    """One plain-text paragraph that says what a run did and found.

    It names the task, the input and its size, the network (and, for ``--net auto``, that it
    was chosen from the input's texture, with the predicted width and the probabilities), the
    estimated noise level when the run recorded one, the iterations, the returned step with the
    stop reason, the time and placement, and PSNR/SSIM when the record has them. Missing keys
    leave their part out.

    Parameters
    ----------
    record : dict
        A run's record (see :func:`write_html_report`).

    Returns
    -------
    str
        The paragraph, on one line, without markup.

    Examples
    --------
    >>> record = {
    ...     "command": "denoise",
    ...     "input": {"path": "in/noisy.png", "shape_chw": [3, 48, 40]},
    ...     "result": {"iterations": 600, "stop_step": 420, "confirmed": True,
    ...                "reason": "cifs: no new minimum in 180 steps after step 420"},
    ... }
    >>> print(summary_paragraph(record))  # doctest: +NORMALIZE_WHITESPACE
    Denoising of noisy.png (40×48 pixels, 3 channels). Ran 600 iterations; returned the
    estimate of step 420 (confirmed). Stop reason: cifs: no new minimum in 180 steps after
    step 420.
    >>> summary_paragraph({})
    'Restoration of the input.'
    """
    record = record if isinstance(record, Mapping) else {}
    sentences = [_subject_sentence(record)]
    architecture = _architecture(record)
    if architecture:
        sentences.append(_choice_sentence(architecture))
    sigma = _noise_level(record)
    if sigma is not None:
        value, source = sigma
        sentences.append(f"Estimated noise level σ̂ ≈ {value:.1f} on the 0–255 scale ({source}).")
    run = _run_sentence(record)
    if run:
        sentences.append(run)
    reason = _get(record, "result", "reason")
    if isinstance(reason, str) and reason.strip():
        sentences.append(_sentence(f"Stop reason: {reason.strip()}"))
    sentences.append(_budget_sentence(_mapping(_get(record, "config", "budget"))))
    sentences.append(_gate_sentence(_mapping(record.get("config"))))
    sentences.append(_guard_sentence(_mapping(_get(record, "config", "fit_guard"))))
    metrics = _metrics_sentence(_mapping(record.get("metrics")))
    if metrics:
        sentences.append(metrics)
    sentences.append(_uncertainty_sentence(_mapping(_get(record, "ensemble", "uncertainty"))))
    return " ".join(s for s in sentences if s)


# --------------------------------------------------------------------------------------
# The summary's parts
# --------------------------------------------------------------------------------------


def _budget_sentence(budget: Mapping[str, Any]) -> str:
    """How far the adaptive budget went past the nominal one, and why ('' if it did not)."""
    extensions = budget.get("extensions")
    nominal, final = _integer(budget.get("nominal")), _integer(budget.get("final"))
    if not isinstance(extensions, list) or not extensions or nominal is None or final is None:
        return ""
    why = _mapping(extensions[0]).get("why", "")
    return _sentence(
        f"The budget of {nominal} steps was extended to {final} "
        f"({len(extensions)} time{'s' if len(extensions) != 1 else ''}; first because {why})"
    )


def _gate_sentence(config: Mapping[str, Any]) -> str:
    """Where the confirmation gate opened, when it held a stop back ('' otherwise).

    Examples
    --------
    >>> _gate_sentence({"gate_opens_at": 1220, "monitor_every": 10, "confirm_below": 1.1})
    'A stop could be confirmed only from step 1220, where the residual first came down to 1.1× the noise variance.'
    >>> _gate_sentence({"gate_opens_at": 10, "monitor_every": 10, "confirm_below": 1.1})
    ''
    """  # noqa: E501
    opens, every = _integer(config.get("gate_opens_at")), _integer(config.get("monitor_every"))
    ratio = config.get("confirm_below")
    if opens is None or every is None or opens <= every or not isinstance(ratio, int | float):
        return ""
    return _sentence(
        f"A stop could be confirmed only from step {opens}, where the residual first came down "
        f"to {ratio:g}× the noise variance"
    )


def _guard_sentence(guard: Mapping[str, Any]) -> str:
    """The fit guard's verdict, in words ('' when the record has none)."""
    note = guard.get("note")
    if not isinstance(note, str) or not note:
        return ""
    if guard.get("underfitted"):
        return _sentence(
            f"Warning: the result is {note}; it may be worse than the input. Try a larger "
            "network or more steps"
        )
    return _sentence(f"Fit guard: {note}")


def _subject_sentence(record: Mapping[str, Any]) -> str:
    config = _mapping(record.get("config"))
    operator = _mapping(config.get("operator"))
    task = record.get("command") or _get(config, "task", "name") or operator.get("name")
    factor = _integer(operator.get("factor"))
    task_phrase = _TASK_NAMES.get(str(task), str(task).capitalize() if task else "Restoration")
    if task == "sr" and factor is not None:
        task_phrase += f" ×{factor}"
    path = _get(record, "input", "path")
    name = _file_name(path) or "the input"
    text = f"{task_phrase} of {name}"
    shape = _get(record, "input", "shape_chw")
    details = []
    if isinstance(shape, list | tuple) and len(shape) == 3 and all(_integer(s) for s in shape):
        channels, height, width = (int(s) for s in shape)
        size = f"{width}×{height} pixels, {channels} channel{'s' if channels != 1 else ''}"
        if task == "sr" and factor is not None:
            size += f", to {width * factor}×{height * factor}"
        details.append(size)
    known = _real(operator.get("known_fraction"))
    if known is not None:
        details.append(f"{known:.1%} of values known")
    if details:
        text += f" ({'; '.join(details)})"
    network = network_phrase(_mapping(config.get("net")))
    if network:
        text += f" with {network}"
    return _sentence(text)


def network_phrase(net: Mapping[str, Any]) -> str:
    """``'hourglass (width 32; 58,339 parameters)'`` from a record's ``config.net`` ('' if none)."""
    name = net.get("name")
    if not isinstance(name, str) or not name:
        return ""
    options = _mapping(net.get("options"))
    parts = [f"{key} {_plain(value)}" for key, value in options.items() if value is not None]
    parameters = _integer(net.get("parameters"))
    inside = ", ".join(parts)
    if parameters is not None:
        inside += ("; " if inside else "") + f"{parameters:,} parameters"
    return f"{name} ({inside})" if inside else name


def _choice_sentence(architecture: Mapping[str, Any]) -> str:
    width = architecture.get("width", _get(architecture, "options", "width"))
    text = "The network was chosen automatically from the input's texture (--net auto)"
    if width is not None:
        text += f": predicted width {_plain(width)}"
    probabilities = _mapping(architecture.get("probabilities"))
    shown = [
        f"{p:.2f} for width {key}"
        for key, p in ((k, _real(v)) for k, v in probabilities.items())
        if p is not None
    ]
    if shown:
        text += f", probabilities {', '.join(shown)}"
    return _sentence(text)


def _noise_level(record: Mapping[str, Any]) -> tuple[float, str] | None:
    """The run's noise-level estimate (0–255 scale) and where it comes from, or ``None``."""
    features = _mapping(_architecture(record).get("features"))
    sigma = _real(features.get("noise_sigma"))
    if sigma is not None:
        return sigma, "the width predictor's estimate"
    for key in ("sigma_hat", "sigma"):
        for name, criterion in _mapping(record.get("criteria")).items():
            sigma = _real(_mapping(criterion).get(key))
            if sigma is not None:
                return sigma, f"used by the {name} criterion"
    return None


def _run_sentence(record: Mapping[str, Any]) -> str:
    result = _mapping(record.get("result"))
    config = _mapping(record.get("config"))
    iterations = _integer(result.get("iterations"))
    # the budget in force at the end: the adaptive budget may have extended max_iters
    max_iters = _integer(_get(config, "budget", "final")) or _integer(config.get("max_iters"))
    seconds = _real(_get(record, "timings", "fit_seconds"))
    rate = _real(_get(record, "timings", "iterations_per_second"))
    placement = _mapping(config.get("placement"))
    if iterations is None and seconds is None:
        return ""
    tiles = config.get("tiles")
    ensemble = _mapping(record.get("ensemble"))
    if isinstance(tiles, list) and tiles:
        text = _tiles_phrase(record, tiles)
    elif ensemble:
        text = _ensemble_phrase(record, ensemble)
    else:
        text = "Interrupted after" if result.get("interrupted") else "Ran"
        if iterations is not None:
            of = f" of {max_iters}" if max_iters is not None and max_iters != iterations else ""
            text += f" {iterations}{of} iteration{'s' if iterations != 1 else ''}"
        else:
            text += " the fit"
    if seconds is not None:
        text += f" in {_seconds(seconds)}"
        where = [f"{rate:.1f} it/s"] if rate is not None else []
        where += [str(placement[k]) for k in ("device", "precision") if placement.get(k)]
        if where:
            text += f" ({', '.join(where)})"
    if isinstance(tiles, list) and tiles:
        text += "; each tile returned its own estimate"
    elif ensemble:
        text += "; returned the mean of the members' estimates, each at its own stop"
    else:
        text += _returned_phrase(result, iterations)
    return _sentence(text)


def _returned_phrase(result: Mapping[str, Any], iterations: int | None) -> str:
    """Which estimate a single run returned: ``'; returned the estimate of step 420'``."""
    stop_step = _integer(result.get("stop_step"))
    if stop_step is not None:
        confirmed, by = result.get("confirmed"), result.get("confirmed_by")
        note = {True: " (confirmed)", False: " (not confirmed)"}.get(confirmed, "")
        if confirmed and by:
            note = f" (confirmed by {by})"
        return f"; returned the estimate of step {stop_step}{note}"
    if iterations is not None and "stop_step" in result:
        return "; returned the last estimate"
    return ""


def _tiles_phrase(record: Mapping[str, Any], tiles: list[Any]) -> str:
    """``'Ran 9 tiles of 5 iterations each (45 in all)'``, or where a tiled run was interrupted.

    Examples
    --------
    >>> record = {"config": {"tiling": {"count": 2}}, "result": {"iterations": 8}}
    >>> _tiles_phrase(record, [{"iterations": 5}, {"iterations": 3}])
    'Ran 2 tiles of 3–5 iterations each (8 in all)'
    >>> _tiles_phrase({**record, "result": {"interrupted": True, "iterations": 7}}, [{}])
    'Interrupted in tile 1 of 2, after 7 iterations in all'
    """
    count = _integer(_get(record, "config", "tiling", "count")) or len(tiles)
    total = _integer(_get(record, "result", "iterations"))
    if _get(record, "result", "interrupted"):
        after = f", after {total} iterations in all" if total is not None else ""
        return f"Interrupted in tile {len(tiles)} of {count}{after}"
    text = f"Ran {count} tile{'s' if count != 1 else ''}"
    steps = sorted(n for n in (_integer(_mapping(t).get("iterations")) for t in tiles) if n)
    if steps:
        each = f"{steps[0]}" if steps[0] == steps[-1] else f"{steps[0]}–{steps[-1]}"
        text += f" of {each} iteration{'s' if steps[-1] != 1 else ''} each"
    return text + (f" ({total} in all)" if total is not None else "")


def _ensemble_phrase(record: Mapping[str, Any], ensemble: Mapping[str, Any]) -> str:
    """``'Ran an ensemble of 2 members (seeds 0–1) of 4–6 iterations each (10 in all)'``.

    Examples
    --------
    >>> members = [{"seed": 0, "iterations": 6}, {"seed": 1, "iterations": 4}]
    >>> record = {"result": {"iterations": 10}}
    >>> _ensemble_phrase(record, {"size": 2, "run": 2, "members": members})
    'Ran an ensemble of 2 members (seeds 0–1) of 4–6 iterations each (10 in all)'
    >>> record = {"result": {"interrupted": True, "iterations": 9}}
    >>> _ensemble_phrase(record, {"size": 4, "run": 2, "transforms": "dihedral", "members": []})
    'Interrupted in member 2 of an ensemble of 4 (flips and rotations), after 9 iterations in all'
    """
    size, run = _integer(ensemble.get("size")), _integer(ensemble.get("run"))
    members = [_mapping(m) for m in ensemble.get("members") or []]
    total = _integer(_get(record, "result", "iterations"))
    seeds = sorted(s for s in (_integer(m.get("seed")) for m in members) if s is not None)
    kind = [f"seeds {seeds[0]}–{seeds[-1]}"] if len(seeds) > 1 else []
    kind += ["flips and rotations"] if ensemble.get("transforms") == "dihedral" else []
    kind_text = f" ({', '.join(kind)})" if kind else ""
    if _get(record, "result", "interrupted"):
        after = f", after {total} iterations in all" if total is not None else ""
        return f"Interrupted in member {run} of an ensemble of {size}{kind_text}{after}"
    text = f"Ran an ensemble of {run} member{'s' if run != 1 else ''}{kind_text}"
    if run is not None and size is not None and run < size:
        text += f" ({size} asked for)"
    steps = sorted(n for n in (_integer(m.get("iterations")) for m in members) if n)
    if steps:
        each = f"{steps[0]}" if steps[0] == steps[-1] else f"{steps[0]}–{steps[-1]}"
        text += f" of {each} iteration{'s' if steps[-1] != 1 else ''} each"
    return text + (f" ({total} in all)" if total is not None else "")


def _uncertainty_sentence(summary: Mapping[str, Any]) -> str:
    """An ensemble's uncertainty map in words ('' without one)."""
    mean, p95 = _real(summary.get("mean")), _real(summary.get("p95"))
    if mean is None or p95 is None:
        return ""
    text = (
        "Uncertainty (the members' per-pixel standard deviation: where they disagree, not a "
        f"calibrated error bar): mean {mean:.2f}/255, 95th percentile {p95:.2f}/255"
    )
    rho = _real(summary.get("spearman_error"))
    if rho is not None:
        text += f"; it ranks the actual error with Spearman ρ = {rho:.2f}"
    return _sentence(text)


def _metrics_sentence(metrics: Mapping[str, Any]) -> str:
    parts = []
    for key, label, unit, digits in (("psnr", "PSNR", " dB", 2), ("ssim", "SSIM", "", 4)):
        value = _number_or_inf(metrics.get(key))
        if value is None:
            continue
        text = f"{label} {_metric(value, digits)}{unit}"
        before = _number_or_inf(metrics.get(f"{key}_input"))
        if before is not None:
            text += f" (input {_metric(before, digits)}{unit})"
        parts.append(text)
    return _sentence(f"Against the reference: {', '.join(parts)}") if parts else ""


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


def _page(
    record: Mapping[str, Any],
    degraded: np.ndarray,
    result: np.ndarray,
    clean: np.ndarray | None,
    curves_png: bytes | None,
    uncertainty_png: bytes | None = None,
) -> str:
    esc = _esc
    path = _get(record, "input", "path")
    name = _file_name(path) or "run"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>autodip report — {esc(name)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>autodip report — {esc(name)}</h1>",
        f'<p class="summary">{esc(summary_paragraph(record))}</p>',
    ]
    parts += _images_section(record, degraded, result, clean)
    parts += _uncertainty_section(record, uncertainty_png)
    parts += _criteria_section(record, curves_png)
    parts += _network_section(record)
    parts += _run_section(record)
    parts += _environment_section(record)
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _images_section(
    record: Mapping[str, Any], degraded: np.ndarray, result: np.ndarray, clean: np.ndarray | None
) -> list[str]:
    height, width = result.shape[1:]
    shown_input = degraded
    input_notes = [_size_note(degraded)]
    if degraded.shape[1:] != result.shape[1:]:
        shown_input = _resize_nearest(degraded, height, width)
        input_notes.append(
            f"shown enlarged by nearest neighbour to the result's {width}×{height} pixels"
        )
    metrics = _mapping(record.get("metrics"))
    panels = [
        ("Input", _get(record, "input", "path"), shown_input, input_notes, "psnr_input"),
        ("Result", record.get("output"), result, [_size_note(result)], "psnr"),
    ]
    if clean is not None:
        panels.append(("Reference", record.get("reference"), clean, [_size_note(clean)], None))
    figures, crops = [], []
    top, left, side = _crop_box(shown_input, result)
    zoom = int(np.clip(_MAX_CROP_SIDE // side, 2, 4))
    for title, file, pixels, notes, psnr_key in panels:
        if psnr_key is not None:
            psnr = _number_or_inf(metrics.get(psnr_key))
            if psnr is not None:
                notes = [*notes, f"PSNR {_metric(psnr, 2)} dB against the reference"]
        display, display_notes = _display(pixels)
        caption = title + (f" — {_file_name(file)}" if _file_name(file) else "")
        figures.append(_figure(display, caption, [*notes, *display_notes]))
        crop = pixels[:, top : top + side, left : left + side]
        crop = _resize_nearest(crop, side * zoom, side * zoom)
        crop_display, _ = _display(crop)
        crops.append(_figure(crop_display, f"{title}, zoomed", [], crop=True))
    where = (
        f"rows {top}–{top + side - 1} and columns {left}–{left + side - 1} of the result: the "
        f"{side}×{side} window where the result differs most from the input, enlarged ×{zoom} "
        "by nearest neighbour"
    )
    return [
        "<h2>Images</h2>",
        '<div class="row">',
        *figures,
        "</div>",
        "<h3>Zoomed crop</h3>",
        f'<p class="note">{_esc(where[0].upper() + where[1:])}.</p>',
        '<div class="row">',
        *crops,
        "</div>",
    ]


def _uncertainty_section(record: Mapping[str, Any], uncertainty_png: bytes | None) -> list[str]:
    """An ensemble's map of disagreement with its colour bar, and its members' table."""
    ensemble = _mapping(record.get("ensemble"))
    if not ensemble:
        return []
    parts = ["<h2>Uncertainty</h2>"]
    summary = _mapping(ensemble.get("uncertainty"))
    what = summary.get("what") or "the members' per-pixel standard deviation"
    parts.append(
        f'<p class="note">{_esc(_sentence(f"The map is {what}"))} The result is the mean of the '
        "members; the curves below are the first member's.</p>"
    )
    if uncertainty_png is not None:
        parts += [
            "<figure>",
            f'<img src="{_data_uri(bytes(uncertainty_png))}" alt="uncertainty map">',
            "<figcaption>Standard deviation across the members, per pixel (mean over the "
            "channels), on the 0–255 scale.</figcaption>",
            "</figure>",
        ]
    shown = ("member", "seed", "transform", "stop_step", "iterations", "seconds", "underfitted",
             "fit_guard_ratio", "score_at_stop")  # fmt: skip
    header = ["member", "seed", "transform", "returned step", "iterations", "seconds"]
    header += ["under-fitted", "residual / σ̂²", "criterion score at the stop"]
    rows = [[_mapping(m).get(k) for k in shown] for m in ensemble.get("members") or []]
    if rows:
        parts.append(_grid_table(header, rows))
    return parts


def _criteria_section(record: Mapping[str, Any], curves_png: bytes | None) -> list[str]:
    criteria = {
        str(name): _mapping(value) for name, value in _mapping(record.get("criteria")).items()
    }
    if curves_png is None and not criteria:
        return []
    parts = ["<h2>Criteria</h2>"]
    if curves_png is not None:
        stop = _integer(_get(record, "result", "stop_step"))
        caption = "Loss, PSNR (when a reference was given) and the criteria's normalised scores"
        caption += "; dashed: each criterion's candidate step"
        if stop is not None:
            caption += f"; black: the returned step {stop}"
        parts += [
            '<figure class="curves">',
            f'<img src="{_data_uri(bytes(curves_png))}" alt="criteria curves">',
            f"<figcaption>{_esc(caption)}.</figcaption>",
            "</figure>",
        ]
    if criteria:
        shown = ("candidate_step", "confirmed", "patience", "lower_is_better", "seconds")
        header = ["criterion", "candidate step", "confirmed", "patience", "lower is better"]
        header += ["seconds", "options"]
        rows = []
        for name, crit in criteria.items():
            skip = {"name", "steps", "scores", *shown}
            options = {k: v for k, v in crit.items() if k not in skip}
            rows.append([name, *(crit.get(k) for k in shown), options])
        parts.append(_grid_table(header, rows))
    return parts


def _network_section(record: Mapping[str, Any]) -> list[str]:
    config = _mapping(record.get("config"))
    net = _mapping(config.get("net"))
    architecture = _architecture(record)
    parts = ["<h2>Network</h2>"]
    rows: list[tuple[str, Any]] = [("name", net.get("name", architecture.get("net")))]
    rows += [(f"option: {k}", v) for k, v in _mapping(net.get("options")).items()]
    if "parameters" in net:
        rows.append(("parameters", net.get("parameters")))
    if architecture:
        rows.append(("chosen", "automatically from the input's texture (--net auto)"))
        rows.append(("predicted width", architecture.get("width")))
        rows += [
            (f"P(width {k})", v) for k, v in _mapping(architecture.get("probabilities")).items()
        ]
    else:
        rows.append(("chosen", "as given (--net, or the task's default)"))
    tables = [_table("Choice", rows)]
    if architecture:
        features = _mapping(architecture.get("features"))
        if features:
            tables.append(_table("Texture features behind the choice", features.items()))
        model = _mapping(architecture.get("model"))
        if model:
            tables.append(_table("Width model", model.items()))
    parts += ['<div class="tables">', *tables, "</div>"]
    return parts


def _run_section(record: Mapping[str, Any]) -> list[str]:
    config = _mapping(record.get("config"))
    settings = [
        (k, v)
        for k, v in config.items()
        if k not in ("net", "task", "operator", "placement", "architecture")
        and not isinstance(v, Mapping)
    ]
    tables = []
    task = _mapping(config.get("task"))
    if task:
        tables.append(_table("Task defaults", task.items()))
    operator = _mapping(config.get("operator"))
    if operator:
        tables.append(_table("Operator", operator.items()))
    if settings:
        tables.append(_table("Settings", settings))
    placement = _mapping(config.get("placement"))
    if placement:
        tables.append(_table("Placement", placement.items()))
    timings = [(k, v) for k, v in _mapping(record.get("timings")).items()]
    monitor = _get(record, "result", "monitor_seconds")
    if monitor is not None:
        timings.append(("criteria seconds (all)", monitor))
    if timings:
        tables.append(_table("Timings", timings))
    result = [(k, v) for k, v in _mapping(record.get("result")).items() if k != "monitor_seconds"]
    result += list(_mapping(record.get("metrics")).items())
    if result:
        tables.append(_table("Result", result))
    if not tables:
        return []
    return ["<h2>Run</h2>", '<div class="tables">', *tables, "</div>"]


def _environment_section(record: Mapping[str, Any]) -> list[str]:
    rows: list[tuple[str, Any]] = list(_mapping(record.get("environment")).items())
    files = [("command", record.get("command")), ("input", _get(record, "input", "path"))]
    files += [
        (k, _get(record, "input", k))
        for k in ("shape_chw", "format", "bit_depth", "dtype", "mode", "layout", "frame", "damaged")
    ]
    files += [("output", record.get("output")), ("reference", record.get("reference"))]
    argv = record.get("argv")
    if isinstance(argv, list | tuple):
        files.append(("command line", " ".join(str(a) for a in argv)))
    files = [(k, v) for k, v in files if v is not None]
    tables = []
    if rows:
        tables.append(_table("Versions", rows))
    if files:
        tables.append(_table("Files", files))
    if not tables:
        return []
    return ["<h2>Environment</h2>", '<div class="tables">', *tables, "</div>"]


# --------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(title: str, rows: Iterable[tuple[Any, Any]]) -> str:
    body = "".join(
        f'<tr><th scope="row">{_esc(k)}</th><td class="value">{_esc(_plain(v))}</td></tr>'
        for k, v in rows
    )
    return f"<table><caption><h3>{_esc(title)}</h3></caption>{body}</table>"


def _grid_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="value">{_esc(_plain(v))}</td>' for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(pixels: np.ndarray, caption: str, notes: list[str], crop: bool = False) -> str:
    """An ``<img>`` with its caption; small images are drawn enlarged (nearest neighbour)."""
    height, width = pixels.shape[:2]
    scale = max(1, min(8, _MIN_DISPLAY_SIDE // max(height, width)))
    klass = ' class="pixelated"' if scale > 1 or crop else ""
    if scale > 1:
        notes = [*notes, f"drawn ×{scale} on the page"]
    text = caption + (f": {'; '.join(notes)}" if notes else "")
    return (
        f'<figure><img{klass} src="{_data_uri(_png(pixels))}" width="{width * scale}" '
        f'height="{height * scale}" alt="{_esc(caption)}">'
        f"<figcaption>{_esc(text)}</figcaption></figure>"
    )


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------------------


def _as_chw(image: Any, what: str) -> np.ndarray:
    array = as_chw(image, what, dtype=np.float32)
    return np.clip(np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _size_note(pixels: np.ndarray) -> str:
    channels, height, width = pixels.shape
    if channels == 1:
        kind = "gray"
    elif channels == 3:
        kind = "RGB"
    else:
        kind = f"{channels} channels, shown as the gray mean of the channels"
    return f"{width}×{height}, {kind}"


def _display(pixels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``C×H×W`` in [0, 1] -> ``H×W`` or ``H×W×3`` uint8 for a PNG, downscaled if large."""
    if pixels.shape[0] == 3:
        planes = np.moveaxis(pixels, 0, -1)
    elif pixels.shape[0] == 1:
        planes = pixels[0]
    else:
        planes = pixels.mean(axis=0)
    out = np.ascontiguousarray(np.round(planes * 255.0).astype(np.uint8))
    height, width = out.shape[:2]
    if max(height, width) <= MAX_DISPLAY_SIDE:
        return out, []
    from PIL import Image

    scale = MAX_DISPLAY_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(out).resize(size, Image.Resampling.LANCZOS))
    note = f"shown downscaled to {size[0]}×{size[1]} (the zoomed crop has the full resolution)"
    return np.ascontiguousarray(small), [note]


def _resize_nearest(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = np.arange(height) * pixels.shape[1] // height
    cols = np.arange(width) * pixels.shape[2] // width
    return pixels[:, rows[:, None], cols[None, :]]


def _crop_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int]:
    """``(top, left, side)`` of the square window where ``after`` differs most from ``before``.

    Ties (e.g. identical images) go to the window nearest the centre.
    """
    height, width = after.shape[1:]
    side = int(np.clip(min(height, width) // 4, _MIN_CROP_SIDE, _MAX_CROP_SIDE))
    side = min(side, height, width)
    difference = np.abs(after.astype(np.float64) - before).mean(axis=0)
    total = np.zeros((height + 1, width + 1))
    total[1:, 1:] = difference.cumsum(0).cumsum(1)
    stride = max(1, side // 4)
    tops = np.unique(np.r_[np.arange(0, height - side + 1, stride), height - side])
    lefts = np.unique(np.r_[np.arange(0, width - side + 1, stride), width - side])
    t, c = np.meshgrid(tops, lefts, indexing="ij")
    t, c = t.ravel(), c.ravel()
    sums = total[t + side, c + side] - total[t, c + side] - total[t + side, c] + total[t, c]
    sums = np.round(sums, 6)  # sums of equal windows differ in the last bits; keep them tied
    distance = np.hypot(t + side / 2 - height / 2, c + side / 2 - width / 2)
    best = np.lexsort((distance, -sums))[0]
    return int(t[best]), int(c[best]), side


# --------------------------------------------------------------------------------------
# Plain values
# --------------------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _get(record: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(record, Mapping):
            return None
        record = record.get(key)
    return record


def _file_name(path: Any) -> str:
    """The last part of a path given as ``str`` or ``os.PathLike``; ``""`` for anything else."""
    return Path(path).name if isinstance(path, str | os.PathLike) and str(path) else ""


def _architecture(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``--net auto`` evidence: the CLI keeps it at the top, :func:`restore` in the config."""
    return _mapping(record.get("architecture")) or _mapping(_get(record, "config", "architecture"))


def _real(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (for ``None``, bools, strings, NaN, ±inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _number_or_inf(value: Any) -> float | None:
    if isinstance(value, float | np.floating) and math.isinf(value):
        return float(value)
    return _real(value)


def _integer(value: Any) -> int | None:
    number = _real(value)
    return int(number) if number is not None and number == int(number) else None


def _metric(value: float, digits: int) -> str:
    return ("∞" if value > 0 else "−∞") if math.isinf(value) else f"{value:.{digits}f}"


def _seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _plain(value: Any) -> str:
    """A readable one-line form of a JSON-able value (floats to 4 significant digits)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}" if math.isfinite(value) else str(float(value))
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        shown = ", ".join(_plain(v) for v in value[:_MAX_LIST_ITEMS])
        more = len(value) - _MAX_LIST_ITEMS
        return f"[{shown}{f', … ({more} more)' if more > 0 else ''}]"
    return str(value)
