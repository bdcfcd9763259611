"""``autodip inpaint`` and ``autodip sr`` and the TV options, end to end on tiny images."""

import json

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.io import read_image

FAST = ["--iters", "6", "--width", "8", "--monitor-every", "3", "--quiet", "--device", "cpu"]
LOUD = [a for a in FAST if a != "--quiet"]  # messages on; no progress bar (not a TTY)


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def image_png(tmp_path, sample_noisy):
    path = tmp_path / "image.png"
    rgb = (sample_noisy[:, :24, :20] * 255).round().astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(rgb).save(path)
    return path


def _mask(tmp_path, name, array):
    path = tmp_path / name
    Image.fromarray(array.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def mask_png(tmp_path):
    mask = np.full((24, 20), 255)
    mask[6:12, 4:10] = 0
    return _mask(tmp_path, "mask.png", mask)


def test_inpaint_end_to_end_with_report(tmp_path, image_png, mask_png, capsys):
    out, report = tmp_path / "filled.png", tmp_path / "report"
    code, _, stderr = run(
        ["inpaint", image_png, "--mask", mask_png, "-o", out, "--report", report, *LOUD], capsys
    )
    assert code == 0, stderr
    assert "inpainting" in stderr and "92.5% of values known" in stderr
    pixels, _ = read_image(out)
    assert pixels.shape == (3, 24, 20)
    data = json.loads((report / "report.json").read_text())
    assert data["command"] == "inpaint"
    assert data["config"]["operator"]["name"] == "inpaint"
    assert data["config"]["task"]["default_iters"] == 3000
    assert data["config"]["reg_noise_std"] == pytest.approx(0.03)


def test_mask_invert_flips_the_convention(tmp_path, image_png, capsys):
    holes_white = np.zeros((24, 20))
    holes_white[0:6, :] = 255  # 25 % missing, marked white
    mask = _mask(tmp_path, "holes.png", holes_white)
    out = tmp_path / "o.png"
    code, _, stderr = run(
        ["inpaint", image_png, "--mask", mask, "--mask-invert", "-o", out, *LOUD], capsys
    )
    assert code == 0, stderr
    assert "75.0% of values known" in stderr


@pytest.mark.parametrize(
    "array,message",
    [
        (np.zeros((24, 20)), "no known pixel"),
        (np.full((10, 20), 255), "must match"),
    ],
)
def test_bad_masks_give_one_clear_line(tmp_path, image_png, capsys, array, message):
    mask = _mask(tmp_path, "bad.png", array)
    code, _, stderr = run(
        ["inpaint", image_png, "--mask", mask, "-o", tmp_path / "o.png", *FAST], capsys
    )
    assert code == cli.EXIT_USAGE
    assert message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "o.png").exists()


def test_missing_mask_file_is_a_usage_error(tmp_path, image_png, capsys):
    code, _, stderr = run(
        ["inpaint", image_png, "--mask", tmp_path / "nope.png", "-o", tmp_path / "o.png"], capsys
    )
    assert code == cli.EXIT_USAGE and "mask" in stderr


@pytest.mark.parametrize("factor", [2, 3])
def test_sr_output_is_exactly_factor_times_the_input(tmp_path, image_png, capsys, factor):
    out = tmp_path / f"x{factor}.png"
    code, _, stderr = run(["sr", image_png, "--factor", factor, "-o", out, *FAST], capsys)
    assert code == 0, stderr
    pixels, _ = read_image(out)
    assert pixels.shape == (3, 24 * factor, 20 * factor)


def test_sr_checks_the_reference_size_and_criteria(tmp_path, image_png, capsys):
    out = tmp_path / "x2.png"
    code, _, stderr = run(
        ["sr", image_png, "--factor", "2", "-o", out, "--reference", image_png, *FAST], capsys
    )
    assert code == cli.EXIT_USAGE and "(3, 48, 40)" in stderr
    code, _, stderr = run(
        ["sr", image_png, "--factor", "2", "-o", out, "--stop", "cifs", *FAST], capsys
    )
    assert code == cli.EXIT_USAGE and "denoise only" in stderr
    code, _, stderr = run(["sr", image_png, "--factor", "2", "-o", out, "--net", "auto"], capsys)
    assert code == cli.EXIT_USAGE and "denoise` only" in stderr


def test_two_stage_from_the_cli_records_the_boundary(tmp_path, image_png, capsys):
    report = tmp_path / "r"
    code, _, stderr = run(
        [
            "denoise",
            image_png,
            "-o",
            tmp_path / "o.png",
            "--tv",
            "0.05",
            "--two-stage",
            "retarget",
            "--stop",
            "none",
            "--report",
            report,
            *FAST,
        ],
        capsys,
    )
    assert code == 0, stderr
    data = json.loads((report / "report.json").read_text())
    assert data["config"]["stage_boundary"] == 2
    assert data["config"]["two_stage"] == "retarget" and data["config"]["tv_weight"] == 0.05
    assert [h["stage"] for h in data["history"]] == [2, 2]  # steps 3 and 6, after step 2
    code, _, stderr = run(
        ["denoise", image_png, "-o", tmp_path / "p.png", "--two-stage", "continue", *FAST],
        capsys,
    )
    assert code == cli.EXIT_USAGE and "--tv" in stderr


@pytest.mark.parametrize("factor", ["1", "100"])
def test_sr_factor_out_of_range_is_a_usage_error(tmp_path, image_png, capsys, factor):
    code, _, stderr = run(["sr", image_png, "--factor", factor, "-o", tmp_path / "x.png"], capsys)
    assert code == cli.EXIT_USAGE and "factor" in stderr and "Traceback" not in stderr
