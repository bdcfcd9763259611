import json

import numpy as np
import pytest

from autodip import cli
from autodip.bench.calibrate import centre_crop, choose_lambda, psnr_at_stop, select_images
from autodip.stopping.cifs import interpolate_lambda


def synthetic_trajectory(peak_step: int, pixels: int = 1024) -> dict:
    """MSE falls, JPEG size rises after ``peak_step``, PSNR peaks at ``peak_step``."""
    steps = list(range(10, 1010, 10))
    t = np.asarray(steps, float)
    mse = 0.01 * np.exp(-t / 200) + 0.002
    size = 600 + 400 / (1 + np.exp(-(t - peak_step) / 40))
    psnr = 30 - ((t - peak_step) / 150) ** 2
    return {
        "steps": steps,
        "mse": list(mse),
        "size": list(size),
        "psnr": list(psnr),
        "pixels": pixels,
        "sigma_hat": 25.0,
    }


def test_psnr_at_stop_follows_the_candidate_rule():
    traj = synthetic_trajectory(400)
    # lambda 0: the score is the size alone, smallest at the start
    psnr0, step0 = psnr_at_stop(traj, 0.0, patience=100)
    assert step0 == 10 and psnr0 == traj["psnr"][0]
    # huge lambda: the MSE dominates and keeps falling, so the rule never confirms -> last step
    _, step_big = psnr_at_stop(traj, 1e12, patience=100)
    assert step_big == traj["steps"][-1]


def test_choose_lambda_finds_the_balance_that_stops_near_the_peak():
    trajectories = [synthetic_trajectory(400), synthetic_trajectory(500)]
    best = choose_lambda(trajectories, patience=100)
    stops = [psnr_at_stop(t, best["lambda"], 100)[1] for t in trajectories]
    assert all(abs(s - p) <= 150 for s, p in zip(stops, (400, 500), strict=True)), stops
    assert best["mean_psnr_at_stop"] > max(
        np.mean([psnr_at_stop(t, lam, 100)[0] for t in trajectories]) for lam in (0.0, 1e12)
    )
    assert best["mean_peak_psnr"] == pytest.approx(30.0)


def test_select_images_by_parity(tmp_path):
    for name in ("a.png", "b.png", "c.png", "d.png", "e.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in select_images(tmp_path, "even")] == ["a.png", "c.png"]
    assert [p.name for p in select_images(tmp_path, "odd")] == ["b.png", "d.png"]
    assert [p.name for p in select_images(tmp_path, "all", limit=3)] == ["a.png", "b.png", "c.png"]


def test_centre_crop():
    image = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    crop = centre_crop(image, 3)
    assert crop.shape == (2, 3, 3) and crop[0, 0, 0] == image[0, 1, 2]
    with pytest.raises(ValueError, match="smaller"):
        centre_crop(image, 6)


def test_calibrate_cifs_command_end_to_end(tmp_path, sample_clean, capsys):
    from PIL import Image

    folder = tmp_path / "clean"
    folder.mkdir()
    for index in range(3):
        tile = sample_clean[:, :32, index * 16 : index * 16 + 32]
        Image.fromarray((tile * 255).round().astype(np.uint8).transpose(1, 2, 0)).save(
            folder / f"{index}.png"
        )
    out = tmp_path / "table.json"
    argv = [
        "calibrate-cifs",
        "--images",
        folder,
        "--sigmas",
        "25,50",
        "--iters",
        "30",
        "--crop",
        "32",
        "--patience",
        "10",
        "--cache",
        tmp_path / "cache",
        "-o",
        out,
        "--device",
        "cpu",
    ]
    assert cli.main([str(a) for a in argv]) == 0, capsys.readouterr().err
    table = json.loads(out.read_text())
    assert table["made_with"]["images"] == ["0.png", "2.png"]  # even positions
    assert len(table["sigmas"]) == len(table["lambdas"]) == 2 and table["pixels"] == 32 * 32
    assert table["sigmas"][0] < table["sigmas"][1]  # estimated sigma follows the nominal one
    assert interpolate_lambda(table["sigmas"][0], table) == pytest.approx(table["lambdas"][0])
    # resumable: a second run reuses the cache and refuses to overwrite without --force
    assert cli.main([str(a) for a in argv]) == 2
    assert cli.main([str(a) for a in [*argv, "--force"]]) == 0


def test_record_trajectory_records_the_whole_run_without_stopping(monkeypatch):
    """The trajectory must cover every step: CIFS is applied offline for each candidate λ."""
    import autodip.api
    from autodip.bench.calibrate import record_trajectory

    seen = {}
    real = autodip.api.denoise

    def spy(image, **options):
        seen.update(options)
        return real(image, **options)

    monkeypatch.setattr(autodip.api, "denoise", spy)
    clean = np.full((3, 16, 16), 0.5, np.float32)
    trajectory = record_trajectory(clean, 25, seed=0, iters=20, monitor_every=10, device="cpu")
    assert seen["stop"] is None
    assert trajectory["steps"] == [10, 20]


@pytest.mark.parametrize("command", ["calibrate-cifs", "train-width"])
def test_a_tool_refuses_an_unwritable_out_first(tmp_path, capsys, monkeypatch, command):
    import autodip.analysis.width_predictor
    import autodip.bench.calibrate

    def refused(*args, **kwargs):
        raise AssertionError("the work started although --out cannot be written")

    monkeypatch.setattr(autodip.bench.calibrate, "calibrate", refused)
    monkeypatch.setattr(autodip.analysis.width_predictor, "train_width_model", refused)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    where = ["--images", tmp_path]
    if command == "train-width":
        where = ["--data", tmp_path, "--labels", tmp_path / "labels.csv"]
    code = cli.main([str(a) for a in [command, *where, "-o", blocker / "x.json"]])
    stderr = capsys.readouterr().err
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "cannot create the output folder" in stderr
