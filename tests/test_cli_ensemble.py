"""``--ensemble K``: parse-time checks, the report's uncertainty map, progress, Ctrl-C, --resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.io import read_image

FAST = ["--iters", "6", "--width", "8", "--monitor-every", "2", "--device", "cpu"]


@pytest.fixture
def tiny_png(tmp_path, sample_noisy):
    path = tmp_path / "noisy.png"
    pixels = (sample_noisy[:, :24, :20] * 255).round().astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels).save(path)
    return path


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ensemble_end_to_end_with_report_and_uncertainty(tmp_path, tiny_png, capsys):
    out, report = tmp_path / "clean.png", tmp_path / "report"
    argv = ["denoise", tiny_png, "-o", out, "--reference", tiny_png, "--report", report]
    code, _, stderr = run([*argv, "--ensemble", "2", "--ensemble-transforms", "dihedral", *FAST],
                          capsys)  # fmt: skip
    assert code == 0, stderr
    assert read_image(out)[0].shape == (3, 24, 20)
    assert "denoising member 2/2 (seed 1, rot180)" in stderr  # the progress bar's label
    assert "member 1/2 (seed 0): estimate of step" in stderr
    assert "returning the mean of 2 members" in stderr
    assert (report / "uncertainty.png").read_bytes().startswith(b"\x89PNG")
    data = json.loads((report / "report.json").read_text())
    ensemble = data["ensemble"]
    assert ensemble["size"] == ensemble["run"] == 2 and ensemble["transforms"] == "dihedral"
    assert [m["seed"] for m in ensemble["members"]] == [0, 1]
    assert {"stop_step", "iterations", "underfitted", "transform"} <= ensemble["members"][0].keys()
    assert {"mean", "p95", "spearman_error", "what"} <= ensemble["uncertainty"].keys()
    assert data["result"]["iterations"] == sum(m["iterations"] for m in ensemble["members"])
    page = (report / "report.html").read_text()
    assert "<h2>Uncertainty</h2>" in page and 'alt="uncertainty map"' in page
    assert "not a calibrated posterior" in page


def test_a_plain_run_writes_no_uncertainty_and_no_ensemble_key(tmp_path, tiny_png, capsys):
    report = tmp_path / "report"
    argv = ["denoise", tiny_png, "-o", tmp_path / "o.png", "--report", report, "--quiet"]
    code, _, stderr = run([*argv, *FAST], capsys)
    assert code == 0, stderr
    assert not (report / "uncertainty.png").exists()
    assert "ensemble" not in json.loads((report / "report.json").read_text())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ensemble", "0"], "must be a positive integer up to 64, got 0"),
        (["--ensemble", "65"], "must be a positive integer up to 64, got 65"),
        (["--ensemble", "two"], "not an integer"),
        (["--ensemble-transforms", "flips"], "invalid choice: 'flips'"),
    ],
)
def test_bad_values_are_refused_at_parse_time(tmp_path, tiny_png, capsys, flags, message):
    code, _, stderr = run(["denoise", tiny_png, "-o", tmp_path / "o.png", *flags], capsys)
    assert code == 2 and message in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_tiles_are_refused_with_one_line(tmp_path, tiny_png, capsys):
    argv = ["denoise", tiny_png, "-o", tmp_path / "o.png", "--ensemble", "2", "--tile", "32"]
    code, _, stderr = run(argv, capsys)
    assert code == 2 and "not with --tile" in stderr and len(stderr.strip().splitlines()) == 1


def _interrupt_member(monkeypatch, member, step):
    """Make the run of ``member`` (from 1) raise Ctrl-C after ``step``."""
    from autodip.core import run as runner

    real_fit, calls = runner.fit, []

    def fit(*args, **kwargs):
        calls.append(1)
        if len(calls) == member:
            shown = kwargs["on_step"]

            def boom(done, loss):
                shown(done, loss)
                if done == step:
                    raise KeyboardInterrupt

            kwargs["on_step"] = boom
        return real_fit(*args, **kwargs)

    monkeypatch.setattr("autodip.api.fit", fit)


def test_ctrl_c_mid_ensemble_writes_the_mean_so_far(tmp_path, tiny_png, capsys, monkeypatch):
    _interrupt_member(monkeypatch, member=2, step=3)
    out, report = tmp_path / "o.png", tmp_path / "report"
    argv = ["denoise", tiny_png, "-o", out, "--ensemble", "3", "--report", report, "--quiet"]
    code, _, stderr = run([*argv, *FAST], capsys)
    assert code == 130 and out.exists() and "interrupted" in stderr
    data = json.loads((report / "report.json").read_text())
    assert data["result"]["interrupted"] and data["ensemble"]["run"] == 2
    assert data["result"]["reason"].startswith("interrupted in member 2 of 3")
    assert (report / "uncertainty.png").exists()


def test_resume_continues_each_member_to_the_same_output(tmp_path, tiny_png, capsys, monkeypatch):
    whole = tmp_path / "whole.png"
    ensemble = ["--ensemble", "2", "--ensemble-transforms", "dihedral", "--quiet", *FAST]
    assert run(["denoise", tiny_png, "-o", whole, *ensemble], capsys)[0] == 0
    out = tmp_path / "o.png"
    with monkeypatch.context() as patch:
        _interrupt_member(patch, member=2, step=5)
        code, _, stderr = run(
            ["denoise", tiny_png, "-o", out, *ensemble, "--checkpoint-every", "2"], capsys
        )
    assert code == 130, stderr
    assert "--resume (checkpoint" in stderr and "o.png.member1.ckpt" in stderr
    members = [tmp_path / f"o.png.member{k}.ckpt" for k in (1, 2)]
    assert all(p.exists() for p in members)
    code, _, stderr = run(["denoise", tiny_png, "-o", out, *ensemble, "--resume"], capsys)
    assert code == 0, stderr
    assert np.array_equal(read_image(out)[0], read_image(whole)[0])
    assert not any(p.exists() for p in members)  # they have served


def test_resume_without_member_checkpoints_is_refused(tmp_path, tiny_png, capsys):
    argv = ["denoise", tiny_png, "-o", tmp_path / "o.png", "--ensemble", "2", "--resume", *FAST]
    code, _, stderr = run(argv, capsys)
    assert code == 2 and "no checkpoint at" in stderr and "o.png.member1.ckpt" in stderr


def test_inpaint_and_sr_take_ensembles_with_flips(tmp_path, tiny_png, capsys):
    mask = np.full((24, 20), 255, np.uint8)
    mask[4:12, 6:14] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    flips = ["--ensemble", "2", "--ensemble-transforms", "dihedral", "--quiet", *FAST]
    filled = tmp_path / "filled.png"
    argv = ["inpaint", tiny_png, "--mask", tmp_path / "mask.png", "-o", filled, *flips]
    assert run(argv, capsys)[0] == 0
    assert read_image(filled)[0].shape == (3, 24, 20)
    large = tmp_path / "large.png"
    assert run(["sr", tiny_png, "--factor", "2", "-o", large, *flips], capsys)[0] == 0
    assert read_image(large)[0].shape == (3, 48, 40)


def test_the_page_checks_the_map_and_the_summary_names_the_ensemble(tmp_path):
    from autodip.reporting.html import summary_paragraph, write_html_report

    pixels = np.zeros((1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="uncertainty_png is not a PNG"):
        write_html_report(tmp_path / "r.html", {}, pixels, pixels, uncertainty_png=b"nope")
    members = [{"seed": 3, "iterations": 40}, {"seed": 4, "iterations": 60}]
    record = {
        "command": "denoise",
        "result": {"iterations": 100, "stop_step": None},
        "timings": {"fit_seconds": 5.0},
        "ensemble": {"size": 2, "run": 2, "transforms": "none", "members": members,
                     "uncertainty": {"mean": 1.5, "p95": 4.0, "spearman_error": 0.42}},
    }  # fmt: skip
    text = summary_paragraph(record)
    assert "Ran an ensemble of 2 members (seeds 3–4) of 40–60 iterations each (100 in all)" in text
    assert "returned the mean of the members' estimates" in text
    assert "mean 1.50/255, 95th percentile 4.00/255" in text and "Spearman ρ = 0.42" in text
