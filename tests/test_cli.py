import json

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.io import read_image

FAST = ["--iters", "6", "--width", "8", "--monitor-every", "3", "--quiet", "--device", "cpu"]


@pytest.fixture
def tiny_png(tmp_path, sample_noisy):
    path = tmp_path / "noisy.png"
    Image.fromarray(
        (sample_noisy[:, :24, :20] * 255).round().astype(np.uint8).transpose(1, 2, 0)
    ).save(path)
    return path


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_denoise_end_to_end_with_reference_and_report(tmp_path, tiny_png, capsys):
    out, report = tmp_path / "clean.png", tmp_path / "report"
    code, stdout, stderr = run(
        ["denoise", tiny_png, "-o", out, "--reference", tiny_png, "--report", report, *FAST,
         "--ensemble", "1"],
        capsys,
    )  # fmt: skip
    assert code == 0, stderr
    pixels, info = read_image(out)
    assert pixels.shape == (3, 24, 20) and info.format == "png" and info.bit_depth == 8
    assert "PSNR" in stdout and "SSIM" in stdout
    data = json.loads((report / "report.json").read_text())
    assert data["result"]["iterations"] == 6
    assert [h["step"] for h in data["history"]] == [3, 6]
    assert "psnr" in data["history"][0] and "psnr" in data["metrics"]
    assert data["config"]["net"]["name"] == "hourglass"
    assert data["config"]["net"]["options"] == {"width": 8}
    assert {"torch", "python", "autodip"} <= data["environment"].keys()
    assert (report / "curves.png").stat().st_size > 1000
    assert not list(tmp_path.glob(".*.tmp"))


def test_output_keeps_the_input_bit_depth_and_channels(tmp_path, capsys):
    gray16 = (np.linspace(0, 65535, 20 * 24).reshape(24, 20)).astype(np.uint16)
    src = tmp_path / "gray16.tif"
    import tifffile

    tifffile.imwrite(src, gray16)
    out = tmp_path / "out.tif"
    code, _, stderr = run(["denoise", src, "-o", out, *FAST], capsys)
    assert code == 0, stderr
    pixels, info = read_image(out)
    assert pixels.shape == (1, 24, 20) and info.bit_depth == 16


def test_alpha_is_set_aside_and_written_back(tmp_path, capsys):
    rgba = np.random.default_rng(0).integers(0, 256, (24, 20, 4), dtype=np.uint8)
    src = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(src)
    out = tmp_path / "out.png"
    code, _, stderr = run(["denoise", src, "-o", out, *FAST], capsys)
    assert code == 0, stderr
    written = np.asarray(Image.open(out))
    assert written.shape == (24, 20, 4)
    assert np.array_equal(written[..., 3], rgba[..., 3])


def test_existing_output_is_never_overwritten_without_force(tmp_path, tiny_png, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    code, _, stderr = run(["denoise", tiny_png, "-o", out, *FAST], capsys)
    assert code == 2 and "--force" in stderr
    assert out.read_bytes() == b"precious"
    code, _, stderr = run(["denoise", tiny_png, "-o", out, "--force", *FAST], capsys)
    assert code == 0, stderr
    assert read_image(out)[0].shape == (3, 24, 20)


def test_existing_report_is_protected_too(tmp_path, tiny_png, capsys):
    report = tmp_path / "rep"
    report.mkdir()
    (report / "report.json").write_text("{}")
    code, _, stderr = run(
        ["denoise", tiny_png, "-o", tmp_path / "o.png", "--report", report, *FAST], capsys
    )
    assert code == 2 and "report.json" in stderr
    assert not (tmp_path / "o.png").exists()


def _bad_inputs(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    np.save(tmp_path / "zero.npy", np.zeros((0, 5), dtype=np.float32))
    (tmp_path / "folder").mkdir()
    return {
        "missing.png": "no such file",
        "empty.png": "empty",
        "corrupt.png": "not a readable image",
        "zero.npy": "zero size",
        "folder": "no images in",  # a folder is a batch input; this one is empty
    }


@pytest.mark.parametrize("name", ["missing.png", "empty.png", "corrupt.png", "zero.npy", "folder"])
def test_unreadable_inputs_give_one_line_and_exit_2(tmp_path, capsys, name):
    reasons = _bad_inputs(tmp_path)
    code, _, stderr = run(["denoise", tmp_path / name, "-o", tmp_path / "o.png", *FAST], capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert name in lines[0] and reasons[name] in lines[0]
    assert "Traceback" not in stderr
    assert not (tmp_path / "o.png").exists()


def test_too_small_image_says_the_minimum(tmp_path, capsys):
    src = tmp_path / "small.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(src)
    code, _, stderr = run(
        ["denoise", src, "-o", tmp_path / "o.png", "--net", "dip-skip", "--quiet", "--iters", "2"],
        capsys,
    )
    # dip-skip's 5 scales need 33×33 (32×32 would leave 1×1 at the deepest scale)
    assert code == 2 and "at least 33×33" in stderr and "Traceback" not in stderr
    assert "the deepest that works for this image is --depth 2" in stderr


def test_unknown_network_is_a_usage_error(tmp_path, tiny_png, capsys):
    code, _, stderr = run(
        ["denoise", tiny_png, "-o", tmp_path / "o.png", "--net", "hourglas"], capsys
    )
    assert code == 2 and "did you mean 'hourglass'" in stderr


def test_reference_of_another_size_is_rejected(tmp_path, tiny_png, capsys):
    ref = tmp_path / "ref.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(ref)
    code, _, stderr = run(
        ["denoise", tiny_png, "-o", tmp_path / "o.png", "--reference", ref, *FAST], capsys
    )
    assert code == 2 and "must match" in stderr


def test_ctrl_c_still_writes_the_estimate(tmp_path, tiny_png, capsys, monkeypatch):
    from autodip.core import run as runner

    real_fit = runner.fit

    def interrupted_fit(*args, **kwargs):
        def boom(step, loss):
            if step == 2:
                raise KeyboardInterrupt

        kwargs["on_step"] = boom
        return real_fit(*args, **kwargs)

    monkeypatch.setattr("autodip.api.fit", interrupted_fit)
    out = tmp_path / "o.png"
    code, _, stderr = run(["denoise", tiny_png, "-o", out, *FAST], capsys)
    assert code == 130
    assert "interrupted" in stderr and out.exists()
    assert read_image(out)[0].shape == (3, 24, 20)


def test_list_nets_prints_parameter_counts(capsys):
    code, stdout, _ = run(["list", "nets"], capsys)
    assert code == 0 and "dip-skip" in stdout and "2,217,831" in stdout


def test_help_and_bad_flags(capsys):
    code, stdout, _ = run(["denoise", "--help"], capsys)
    assert code == 0
    # the defaults that change with the image's size say so: the cap and CIFS's patience
    assert "300 (450 from 131072 pixels" in " ".join(stdout.split())
    code, _, stderr = run(["denoise", "x.png", "-o", "y.png", "--iters", "0"], capsys)
    assert code == 2 and "positive" in stderr
    assert run([], capsys)[0] == 2


def test_stop_and_monitor_end_to_end(tmp_path, tiny_png, capsys):
    report = tmp_path / "rep"
    argv = [
        "denoise",
        tiny_png,
        "-o",
        tmp_path / "o.png",
        "--stop",
        "fixed",
        "--monitor",
        "wmv,emv,cifs-raw",
        "--criterion-option",
        "fixed.at=20",
        "--ensemble",
        "1",
        "--reference",
        tiny_png,
        "--report",
        report,
        "--iters",
        "40",
        "--width",
        "8",
        "--monitor-every",
        "5",
        "--device",
        "cpu",
    ]
    code, _, stderr = run(argv, capsys)
    assert code == 0, stderr
    data = json.loads((report / "report.json").read_text())
    assert data["result"]["stop_step"] == 20 and data["result"]["confirmed"] is True
    assert data["result"]["iterations"] == 25  # confirmed at the next monitored step
    assert set(data["criteria"]) == {"fixed", "wmv", "emv", "cifs-raw"}
    assert data["criteria"]["cifs-raw"]["scores"]
    assert "fixed: no new minimum" in data["result"]["reason"]
    assert "returning the estimate at step 20" in stderr


def test_no_early_stop_records_the_stop_criterion_too(tmp_path, tiny_png, capsys):
    report = tmp_path / "rep"
    code, _, stderr = run(
        [
            "denoise",
            tiny_png,
            "-o",
            tmp_path / "o.png",
            "--stop",
            "wmv",
            "--no-early-stop",
            "--report",
            report,
            "--ensemble",
            "1",
            *FAST,
        ],
        capsys,
    )
    assert code == 0, stderr
    data = json.loads((report / "report.json").read_text())
    assert data["result"]["iterations"] == 6 and data["result"]["stop_step"] is None
    assert "wmv" in data["criteria"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--monitor", "osc"], "cannot be monitored"),
        (["--stop", "oracle"], "needs a clean image"),
        (["--stop", "cifz"], "did you mean 'cifs'"),
        (["--stop", "osc", "--no-early-stop"], "changes the objective"),
        (["--criterion-option", "osc"], "NAME.KEY=VALUE"),
        (["--stop", "wmv", "--criterion-option", "wmv.size=3"], "size"),
    ],
)
def test_stopping_usage_errors(tmp_path, tiny_png, capsys, flags, message):
    code, _, stderr = run(["denoise", tiny_png, "-o", tmp_path / "o.png", *flags, *FAST], capsys)
    assert code == 2 and message in stderr and "Traceback" not in stderr


def test_list_criteria(capsys):
    code, stdout, _ = run(["list", "criteria"], capsys)
    assert code == 0
    for name in ("cifs", "osc", "wmv", "oracle"):
        assert name in stdout
    assert "changes the objective" in stdout and "``" not in stdout


def test_denoise_stops_with_cifs_by_default(tmp_path, tiny_png, capsys):
    report = tmp_path / "rep"
    argv = ["denoise", tiny_png, "-o", tmp_path / "o.png", "--report", report, "--ensemble", "1"]
    code, _, stderr = run([*argv, *FAST], capsys)
    assert code == 0, stderr
    data = json.loads((report / "report.json").read_text())
    # CIFS stops; the discrepancy principle may confirm beside it (its own record)
    assert list(data["criteria"]) == ["cifs", "discrepancy"]
    assert data["criteria"]["discrepancy"]["also_confirms"] is True
    assert data["criteria"]["cifs"]["lam"] > 0 and data["criteria"]["cifs"]["sigma"] > 0
    assert data["result"]["stop_step"] is not None


def test_demo_writes_its_input_reference_and_result(tmp_path, monkeypatch):
    from autodip import demo

    real_main = cli.main
    monkeypatch.setattr(demo.cli, "main", lambda argv: real_main([*argv, *FAST]))
    assert demo.main([str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    noisy, _ = read_image(out / "noisy.png")
    assert noisy.shape == (3, demo.CROP, demo.CROP)
    assert read_image(out / "denoised.png")[0].shape == noisy.shape
    assert (out / "clean.png").exists() and (out / "report.json").exists()
