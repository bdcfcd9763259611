"""``--ensemble K``: parse-time checks, the report's uncertainty map, progress, Ctrl-C, --resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from autodip import cli, defaults
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
    code, _, stderr = run([*argv, "--ensemble", "1", *FAST], capsys)
    assert code == 0, stderr
    assert not (report / "uncertainty.png").exists()
    assert "ensemble" not in json.loads((report / "report.json").read_text())


def test_denoising_without_ensemble_runs_the_default_ensemble_and_says_so(
    tmp_path, tiny_png, capsys
):
    size = defaults.TASK_DEFAULTS["denoise"].ensemble
    report = tmp_path / "report"
    argv = ["denoise", tiny_png, "-o", tmp_path / "o.png", "--report", report]
    code, _, stderr = run([*argv, *FAST], capsys)
    assert code == 0, stderr
    assert f"the mean of {size} runs, the default ensemble" in stderr
    assert f"returning the mean of {size} members" in stderr
    data = json.loads((report / "report.json").read_text())
    assert data["ensemble"]["size"] == size and data["ensemble"]["transforms"] == "none"
    assert (report / "uncertainty.png").exists()


def test_the_default_is_an_ensemble_only_where_it_was_measured_and_the_run_is_whole():
    from autodip.cli.parser import build_parser
    from autodip.cli.single import ensemble_size

    def size(*extra, command="denoise", tile=None):
        args = build_parser().parse_args([command, "in.png", "-o", "out.png", *extra])
        return ensemble_size(args, tile)

    default = defaults.TASK_DEFAULTS["denoise"].ensemble
    assert default == defaults.DENOISE_ENSEMBLE > 1
    assert size() == default and size("--ensemble-transforms", "dihedral") == default
    assert size("--ensemble", "1") == 1 and size("--ensemble", "3", "--window", "64") == 3
    assert size("--tile", "64") == size("--window", "64") == size(tile=256) == 1
    assert size("--mask", "m.png", command="inpaint") == size("--factor", "4", command="sr") == 1


def test_the_library_default_follows_the_task_and_falls_back_to_one_run_for_tiles():
    from autodip.api import task_defaults
    from autodip.physics.operators import Denoise, Inpaint, SuperResolve

    denoise = task_defaults(Denoise())
    assert denoise.ensemble_for() == defaults.DENOISE_ENSEMBLE
    assert denoise.ensemble_for(tile=64) == denoise.ensemble_for(window=32) == 1
    for operator in (Inpaint(np.ones((4, 4))), SuperResolve(4), SuperResolve(8)):
        assert task_defaults(operator).ensemble_for() == 1


def test_a_default_ensemble_with_a_window_is_one_run(sample_noisy):
    import autodip

    noisy = sample_noisy[:, :32, :32]
    whole = autodip.denoise(noisy, iters=4, width=8, device="cpu")
    windowed = autodip.denoise(noisy, iters=4, width=8, device="cpu", fit_options={"window": 16})
    assert whole.ensemble is not None and whole.ensemble["size"] == defaults.DENOISE_ENSEMBLE
    assert windowed.ensemble is None


def test_transforms_alone_are_refused_where_the_default_is_one_run(tmp_path, tiny_png, capsys):
    argv = ["sr", tiny_png, "-o", tmp_path / "o.png", "--factor", "2", "--ensemble-transforms",
            "dihedral"]  # fmt: skip
    code, _, stderr = run(argv, capsys)
    assert code == 2 and "--ensemble-transforms has no effect without --ensemble K" in stderr
    assert not (tmp_path / "o.png").exists()


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


def test_a_checkpoint_of_another_ensemble_size_is_kept_and_named(tmp_path, tiny_png, capsys):
    """A single run's ``OUTPUT.ckpt`` (``--ensemble 1``, or an older autodip) beside a default
    ensemble, which checkpoints per member: not overwritten unasked, named by ``--resume``,
    removed by ``--force``."""
    out = tmp_path / "o.png"
    plain = tmp_path / "o.png.ckpt"
    plain.write_bytes(b"a single run's state")
    argv = ["denoise", tiny_png, "-o", out, "--quiet", *FAST]
    code, _, stderr = run(argv, capsys)
    assert code == 2 and f"'{plain}' holds an unfinished run's checkpoint" in stderr
    code, _, stderr = run([*argv, "--resume"], capsys)
    assert code == 2 and "holds a single run's: resume it with --ensemble 1" in stderr
    assert plain.exists() and not out.exists()
    member = tmp_path / "o.png.member2.ckpt"
    member.write_bytes(b"a member's state")
    plain.unlink()
    code, _, stderr = run([*argv, "--ensemble", "1", "--resume"], capsys)
    assert code == 2 and "an ensemble member's: resume it with the --ensemble K" in stderr
    code, _, stderr = run([*argv, "--ensemble", "1", "--force"], capsys)
    assert code == 0, stderr
    assert not member.exists() and out.exists()  # starting afresh drops every stale state


def test_batched_members_on_request_and_refusals_in_one_line(tmp_path, tiny_png, capsys):
    out, report = tmp_path / "clean.png", tmp_path / "report"
    argv = ["denoise", tiny_png, "-o", out, "--report", report, "--ensemble", "2", *FAST]
    code, _, stderr = run([*argv, "--batch-members", "on"], capsys)
    assert code == 0, stderr
    assert "denoising members 1–2 batched (seeds 0–1)" in stderr  # the progress bar's label
    ensemble = json.loads((report / "report.json").read_text())["ensemble"]
    assert ensemble["batched"] is True and [m["seed"] for m in ensemble["members"]] == [0, 1]
    # on the CPU, auto runs them one after another
    code, _, stderr = run([*argv, "--force"], capsys)
    assert code == 0 and "member 2/2 (seed 1)" in stderr
    assert json.loads((report / "report.json").read_text())["ensemble"]["batched"] is False
    refused = tmp_path / "refused.png"
    for flags, message in [
        (["--ensemble", "2", "--ensemble-transforms", "dihedral", "--batch-members", "on"],
         "--ensemble-transforms dihedral needs them one by one"),
        (["--ensemble", "2", "--max-time", "60", "--batch-members", "on"],
         "--max-time needs them one by one"),
        (["--ensemble", "2", "--stop", "holdout", "--batch-members", "on"],
         "--stop holdout (it changes the objective) needs them one by one"),
        (["--ensemble", "2", "--tv", "0.01", "--batch-members", "on"],
         "--tv or --two-stage needs them one by one"),
        (["--ensemble", "1", "--batch-members", "off"], "--batch-members has no effect without"),
    ]:  # fmt: skip
        code, _, stderr = run(["denoise", tiny_png, "-o", refused, *flags, *FAST], capsys)
        assert code == 2 and message in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1 and not refused.exists()
