"""`autodip denoise --net auto`, `autodip inspect` and `autodip train-width`."""

import json

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.analysis.width_predictor import WIDTHS, load_width_model
from autodip.api import denoise
from autodip.io import read_image

TINY = ["--iters", "4", "--quiet", "--device", "cpu"]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def save_png(path, chw):
    hwc = (np.clip(chw, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(hwc if hwc.shape[2] == 3 else hwc[..., 0]).save(path)
    return path


@pytest.fixture
def tiny_png(tmp_path, sample_noisy):
    return save_png(tmp_path / "noisy.png", sample_noisy[:, :48, :40])


LOUD = [a for a in TINY if a != "--quiet"]  # messages on, progress bar off (not a TTY)


def test_denoise_net_auto_end_to_end(tmp_path, tiny_png, capsys):
    out, report = tmp_path / "clean.png", tmp_path / "report"
    code, _, stderr = run(
        ["denoise", tiny_png, "-o", out, "--net", "auto", "--report", report, *LOUD], capsys
    )
    assert code == 0, stderr
    pixels, _ = read_image(out)
    assert pixels.shape == (3, 48, 40)
    lines = [line for line in stderr.splitlines() if line.startswith("autodip: --net auto:")]
    assert len(lines) == 1 and "hourglass width" in lines[0]
    data = json.loads((report / "report.json").read_text())
    arch = data["architecture"]
    assert arch["net"] == "hourglass" and arch["width"] in WIDTHS
    assert arch["options"] == {"width": arch["width"], "depth": 2, "upsample": "bilinear"}
    assert set(arch["probabilities"]) == {"32", "64", "128"}
    assert sum(arch["probabilities"].values()) == pytest.approx(1)
    assert {"glcm_contrast_0", "psd_r75", "noise_sigma"} <= set(arch["features"])
    assert data["config"]["net"]["name"] == "hourglass"
    assert data["config"]["net"]["options"] == arch["options"]
    assert f"width {arch['width']}" in lines[0]


def test_net_auto_refuses_width_and_depth(tmp_path, tiny_png, capsys):
    out = tmp_path / "clean.png"
    code, _, stderr = run(
        ["denoise", tiny_png, "-o", out, "--net", "auto", "--width", "8", *TINY], capsys
    )
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "--net auto" in stderr and not out.exists()


def test_denoise_api_accepts_net_auto(sample_noisy):
    result = denoise(sample_noisy[:, :32, :32], net="auto", iters=2, device="cpu")
    arch = result.config["architecture"]
    assert result.config["net"]["options"]["width"] == arch["width"]
    with pytest.raises(ValueError, match="chooses width"):
        denoise(sample_noisy[:, :32, :32], net="auto", width=8, iters=1, device="cpu")


def test_inspect_prints_features_probabilities_and_width(tiny_png, capsys):
    code, out, err = run(["inspect", tiny_png], capsys)
    assert code == 0, err
    for name in ("glcm_correlation_0", "glcm_homogeneity_45", "glcm_contrast_0", "psd_r75"):
        assert name in out
    assert "width  32" in out and "width 128" in out
    assert "chosen: hourglass width" in out
    from autodip.analysis.noise_level import estimate_sigma
    from autodip.io import read_image

    pixels, _ = read_image(tiny_png)  # the σ̂ a denoising run uses, and the predictor's, told apart
    assert f"noise σ̂ {estimate_sigma(pixels):.2f} (0–255 scale; what denoising uses" in out
    assert f"wavelet rule's σ̂ {estimate_sigma(pixels, method='wavelet'):.2f}" in out


def test_inspect_json(tiny_png, capsys):
    code, out, err = run(["inspect", tiny_png, "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["shape_chw"] == [3, 48, 40]
    assert data["width"] in WIDTHS and data["options"]["depth"] == 2
    assert str(data["width"]) == max(data["probabilities"], key=data["probabilities"].get)


@pytest.mark.parametrize("what", ["missing", "tiny", "model"])
def test_inspect_errors_cleanly(tmp_path, tiny_png, capsys, what):
    if what == "missing":
        argv = ["inspect", tmp_path / "nope.png"]
    elif what == "tiny":
        argv = ["inspect", save_png(tmp_path / "small.png", np.zeros((1, 4, 4)))]
    else:
        argv = ["inspect", tiny_png, "--model", tmp_path / "none.json"]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("autodip: error:")


def test_train_width_writes_a_model_that_inspect_can_use(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    (data / "imgs").mkdir(parents=True)
    rows = ["variant,width_label,image,original_name"]
    xx = np.mgrid[0:32, 0:32][1]
    for i in range(6):
        width = WIDTHS[i % 3]
        # Smoother images for 32, rougher for 128, so the classes are learnable.
        roughness = {32: 0.02, 64: 0.15, 128: 0.4}[width]
        image = 0.5 + 0.2 * np.sin(xx / (3 + i)) + roughness * rng.standard_normal((32, 32))
        save_png(data / "imgs" / f"{i}.png", image[None])
        rows.append(f"NoRepeat,{width},imgs/{i}.png,{i}.png")
        rows.append(f"wRepeat,{width},imgs/{i}.png,{i}.png")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    model_path = tmp_path / "model.json"
    argv = ["train-width", "--labels", labels, "--data", data, "-o", model_path]
    code, _, err = run([*argv, "--sigmas", "0,25"], capsys)
    assert code == 0, err
    model = load_width_model(model_path)
    assert model.provenance["labels"]["images"] == 6
    assert model.provenance["training_noise"]["sigmas"] == [0.0, 25.0]
    assert model.provenance["rows"] == 12
    code, out, err = run(["inspect", data / "imgs" / "0.png", "--model", model_path], capsys)
    assert code == 0, err
    assert "chosen: hourglass width" in out
    code, _, err = run(argv, capsys)
    assert code == 2 and "--force" in err


def test_train_width_reports_bad_labels_in_one_line(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("variant,width_label,image\nNoRepeat,64,missing.png\n")
    code, _, err = run(
        ["train-width", "--labels", labels, "--data", tmp_path, "-o", tmp_path / "m.json"], capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "not found" in err
