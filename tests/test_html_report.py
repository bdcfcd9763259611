"""The self-contained HTML report: embedded images, escaping, summary, robustness."""

from __future__ import annotations

import base64
import copy
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from autodip.reporting.html import summary_paragraph, write_html_report

DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _record() -> dict[str, Any]:
    """A record shaped like the one `autodip denoise --net auto --report` writes."""
    return {
        "command": "denoise",
        "argv": ["autodip", "denoise", "noisy.png", "-o", "clean.png", "--report", "run"],
        "input": {
            "path": "images/noisy.png",
            "shape_chw": [3, 24, 20],
            "format": "png",
            "bit_depth": 8,
            "mode": "RGB",
        },
        "output": "images/clean.png",
        "reference": "images/clean_ref.png",
        "config": {
            "max_iters": 1000,
            "lr": 0.01,
            "reg_noise_std": 1 / 30,
            "exp_weight": 0.99,
            "seed": 0,
            "device": "auto",
            "precision": "auto",
            "monitor_every": 10,
            "tv_weight": 0.0,
            "two_stage": None,
            "stage_boundary": None,
            "placement": {"device": "cpu", "precision": "bf16", "channels_last": True},
            "operator": {"name": "denoise"},
            "net": {
                "name": "hourglass",
                "options": {"width": 64, "depth": 2, "upsample": "bilinear"},
                "parameters": 231363,
            },
            "task": {
                "name": "denoise",
                "default_iters": 1000,
                "default_stop": "cifs",
                "default_reg_noise_std": 1 / 30,
                "defaults_from": "benchmarks/results/defaults.md, stopping.md",
            },
        },
        "environment": {
            "autodip": "0.1.0",
            "python": "3.11.7",
            "torch": "2.5.0",
            "numpy": "2.1.0",
            "platform": "Linux-x86_64",
            "cuda": "none",
        },
        "timings": {
            "total_seconds": 12.5,
            "fit_seconds": 11.25,
            "iterations_per_second": 61.3,
        },
        "result": {
            "iterations": 690,
            "reason": "cifs: no new minimum in 500 steps after step 190",
            "interrupted": False,
            "stop_step": 190,
            "confirmed": True,
            "monitor_seconds": 0.8,
        },
        "criteria": {
            "cifs": {
                "name": "cifs",
                "lam": 137526.2,
                "sigma": 24.46,
                "quality": 95,
                "patience": 500,
                "lower_is_better": True,
                "candidate_step": 190,
                "confirmed": True,
                "seconds": 0.8,
                "steps": [10, 20, 30],
                "scores": [3.0, 2.0, 2.5],
            }
        },
        "architecture": {
            "mode": "auto",
            "net": "hourglass",
            "width": 64,
            "options": {"width": 64, "depth": 2, "upsample": "bilinear"},
            "probabilities": {"32": 0.2, "64": 0.56, "128": 0.24},
            "features": {"glcm_contrast_0": 30.85, "noise_sigma": 24.46, "prefilter_px": 0.98},
            "model": {"file": "width_predictor.json", "labels": "NoRepeat"},
        },
        "metrics": {"psnr_input": 20.17, "psnr": 29.43, "ssim_input": 0.41, "ssim": 0.87},
        "history": [{"step": 10, "loss": 0.1}, {"step": 20, "loss": 0.05}],
    }


def _images(channels: int = 3, height: int = 24, width: int = 20) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    clean = rng.random((channels, height, width), dtype=np.float32)
    noisy = np.clip(clean + 0.2 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    result = (0.5 * clean + 0.25).astype(np.float32)
    return noisy, result, clean


def _curves() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 10), (255, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def _embedded(page: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data))) for data in DATA_URI.findall(page)]


def _write(tmp_path: Path, record: dict[str, Any], *images: Any, **kwargs: Any) -> str:
    path = tmp_path / "report" / "report.html"
    write_html_report(path, record, *images, **kwargs)
    assert path.is_file()
    return path.read_text(encoding="utf-8")


def _assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "url(" not in page


def test_page_embeds_input_result_reference_crops_and_curves(tmp_path: Path) -> None:
    noisy, result, clean = _images()
    page = _write(tmp_path, _record(), noisy, result, reference=clean, curves_png=_curves())
    _assert_self_contained(page)
    images = _embedded(page)
    # input, result, reference, their three zoomed crops, the curves
    assert len(images) == 7
    assert page.count("data:image/png;base64,") == 7
    assert images[0].size == (20, 24) and images[0].mode == "RGB"
    assert images[1].size == (20, 24)
    assert images[2].size == (20, 24)
    crops = images[3:6]
    assert len({im.size for im in crops}) == 1 and crops[0].size[0] > 8
    assert images[6].size == (30, 10)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_without_reference_or_curves(tmp_path: Path) -> None:
    noisy, result, _ = _images()
    page = _write(tmp_path, _record(), noisy, result)
    _assert_self_contained(page)
    assert len(_embedded(page)) == 4  # input, result and their crops


def test_embedded_result_has_the_result_pixels(tmp_path: Path) -> None:
    noisy, result, _ = _images()
    page = _write(tmp_path, _record(), noisy, result)
    shown = np.asarray(_embedded(page)[1], dtype=np.float32) / 255
    np.testing.assert_allclose(shown, np.moveaxis(result, 0, -1), atol=1 / 255)


def test_page_shows_the_tables(tmp_path: Path) -> None:
    noisy, result, clean = _images()
    page = _write(tmp_path, _record(), noisy, result, reference=clean)
    for text in (
        "hourglass",
        "231363",
        "P(width 64)",
        "noise_sigma",
        "defaults_from",
        "benchmarks/results/defaults.md",
        "fit_seconds",
        "bf16",
        "Environment",
        "2.5.0",
        "candidate step",
    ):
        assert text in page, text


def test_summary_mentions_task_net_stop_noise_time_and_metrics() -> None:
    text = summary_paragraph(_record())
    assert "\n" not in text and "<" not in text
    assert text.startswith("Denoising of noisy.png (20×24 pixels, 3 channels)")
    assert "hourglass" in text and "chosen automatically" in text
    assert "predicted width 64" in text and "0.56" in text
    assert "σ̂ ≈ 24.5" in text
    assert "690 of 1000 iterations" in text and "11.2 s" in text
    assert "step 190 (confirmed)" in text
    assert "cifs: no new minimum in 500 steps after step 190" in text
    assert "PSNR 29.43 dB (input 20.17 dB)" in text and "SSIM 0.8700" in text


def test_summary_noise_level_from_cifs_without_auto() -> None:
    record = _record()
    del record["architecture"]
    text = summary_paragraph(record)
    assert "chosen automatically" not in text
    assert "σ̂ ≈ 24.5" in text and "cifs" in text


def test_summary_architecture_in_the_config() -> None:
    record = _record()
    record["config"]["architecture"] = record.pop("architecture")
    assert "predicted width 64" in summary_paragraph(record)


def test_summary_without_metrics_or_criteria() -> None:
    record = _record()
    for key in ("metrics", "criteria", "architecture"):
        del record[key]
    record["result"].update(stop_step=None, confirmed=None, reason="reached max_iters=1000")
    text = summary_paragraph(record)
    assert "PSNR" not in text and "σ̂" not in text
    assert "returned the last estimate" in text and "reached max_iters=1000" in text


def test_summary_not_confirmed_and_non_finite_metrics() -> None:
    record = _record()
    record["result"]["confirmed"] = False
    record["metrics"] = {"psnr": float("inf"), "psnr_input": None, "ssim": float("nan")}
    text = summary_paragraph(record)
    assert "step 190 (not confirmed)" in text
    assert "PSNR ∞ dB" in text and "SSIM" not in text and "input" not in text.split("PSNR")[1]


@pytest.mark.parametrize("record", [{}, {"result": {}}, {"config": None, "input": "x"}])
def test_missing_keys_do_not_crash(tmp_path: Path, record: dict[str, Any]) -> None:
    noisy, result, _ = _images()
    assert summary_paragraph(record) == "Restoration of the input."
    page = _write(tmp_path, record, noisy, result, curves_png=_curves())
    _assert_self_contained(page)
    assert len(_embedded(page)) == 5


def test_partial_record_does_not_crash(tmp_path: Path) -> None:
    record = _record()
    for key in ("environment", "timings", "criteria", "metrics", "architecture", "reference"):
        del record[key]
    del record["config"]["net"]["parameters"], record["config"]["task"]
    del record["result"]["confirmed"], record["input"]["shape_chw"]
    noisy, result, _ = _images()
    _assert_self_contained(_write(tmp_path, record, noisy, result))
    text = summary_paragraph(record)
    assert "Denoising of noisy.png with hourglass" in text and "step 190." in text


def test_one_channel_image(tmp_path: Path) -> None:
    noisy, result, clean = _images(channels=1)
    record = _record()
    record["input"]["shape_chw"] = [1, 24, 20]
    page = _write(tmp_path, record, noisy, result, reference=clean)
    images = _embedded(page)
    assert len(images) == 6
    assert images[0].mode == "L" and images[0].size == (20, 24)
    assert "1 channel)" in summary_paragraph(record)


def test_five_channel_image_is_shown_as_gray_mean(tmp_path: Path) -> None:
    noisy, result, clean = _images(channels=5)
    page = _write(tmp_path, _record(), noisy, result, reference=clean)
    images = _embedded(page)
    assert len(images) == 6 and images[1].mode == "L"
    shown = np.asarray(images[1], dtype=np.float32) / 255
    np.testing.assert_allclose(shown, result.mean(axis=0), atol=1 / 255)
    assert "5 channels, shown as the gray mean of the channels" in page


def test_super_resolution_input_is_enlarged_to_the_result(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    low = rng.random((3, 6, 5), dtype=np.float32)
    high = rng.random((3, 24, 20), dtype=np.float32)
    record = _record()
    record["command"] = "sr"
    record["input"]["shape_chw"] = [3, 6, 5]
    record["config"]["operator"] = {"name": "sr", "factor": 4, "kernel": "lanczos2"}
    page = _write(tmp_path, record, low, high, reference=high)
    images = _embedded(page)
    assert images[0].size == (20, 24)  # the input, enlarged to the result's size
    shown = np.asarray(images[0], dtype=np.float32) / 255
    expected = np.repeat(np.repeat(np.moveaxis(low, 0, -1), 4, axis=0), 4, axis=1)
    np.testing.assert_allclose(shown, expected, atol=1 / 255)
    assert "enlarged by nearest neighbour" in page
    text = summary_paragraph(record)
    assert text.startswith("Super-resolution ×4 of noisy.png (5×6 pixels, 3 channels, to 20×24)")


def test_html_special_characters_are_escaped(tmp_path: Path) -> None:
    record = _record()
    record["input"]["path"] = "dir/<b>&.png"
    record["output"] = 'out/"x" <i>.png'
    record["result"]["reason"] = "a <script>alert(1)</script> & more"
    noisy, result, _ = _images()
    page = _write(tmp_path, record, noisy, result)
    assert "<b>" not in page and "<i>" not in page and "<script" not in page
    assert "&lt;b&gt;&amp;.png" in page
    assert "&quot;x&quot; &lt;i&gt;.png" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    # the plain-text summary is not escaped: the CLI prints it
    assert "<b>&.png" in summary_paragraph(record)


def test_large_image_is_downscaled_for_display(tmp_path: Path) -> None:
    image = np.zeros((1, 1100, 60), np.float32)
    image[:, ::2] = 1.0
    page = _write(tmp_path, {}, image, image)
    images = _embedded(page)
    assert max(images[1].size) <= 1024 and images[1].size[1] == 1024
    assert "shown downscaled to" in page


def test_inputs_are_not_modified_and_are_validated(tmp_path: Path) -> None:
    noisy, result, clean = _images()
    noisy[0, 0, 0] = np.nan
    before = [a.copy() for a in (noisy, result, clean)]
    _write(tmp_path, _record(), noisy, result, reference=clean)
    for a, b in zip(before, (noisy, result, clean), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="reference has shape"):
        _write(tmp_path, _record(), noisy, result, reference=clean[:, :10])
    with pytest.raises(ValueError, match="C×H×W"):
        _write(tmp_path, _record(), noisy, result[None])
    with pytest.raises(ValueError, match="PNG"):
        _write(tmp_path, _record(), noisy, result, curves_png=b"GIF89a")


def test_overwrites_an_existing_report(tmp_path: Path) -> None:
    noisy, result, _ = _images()
    first = _write(tmp_path, _record(), noisy, result)
    record = copy.deepcopy(_record())
    record["result"]["stop_step"] = 77
    second = _write(tmp_path, record, noisy, result)
    assert first != second and "step 77" in second
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["report.html"]
