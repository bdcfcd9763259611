"""``autodip bench``: a tiny sweep's rows, resuming, reports for another S, parallel runs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.bench import Sweep, rebuild_report, run_sweep
from autodip.bench.execute import Cache
from autodip.bench.sweep import expand, noise_seed, parse_degradations
from autodip.stopping import first_candidate

SILENT = {"log": lambda text: None}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench") / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        yy, xx = np.mgrid[0:24, 0:24] / 24
        base = 0.5 + 0.3 * np.sin(2 * np.pi * (xx + rng.random() * yy))
        rgb = np.stack([base, base[::-1], base.T], axis=-1)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"{name}.png")
    return folder


def _sweep(images, **overrides) -> Sweep:
    settings = {
        "images": [str(images)],
        "degradations": ["gaussian:25"],
        "networks": ["hourglass:width=8"],
        "criteria": ["wmv", "emv"],
        "iters": 40,
        "monitor_every": 2,  # EMV scores after 10 samples
        "patience": [10],
        "device": "cpu",
        "precision": "fp32",
    }
    return Sweep(**{**settings, **overrides})


@pytest.fixture(scope="module")
def finished(images, tmp_path_factory):
    """One tiny sweep, run once for the tests that only read it."""
    out = tmp_path_factory.mktemp("bench") / "results"
    report, counts = run_sweep(_sweep(images, baselines=["tv"]), out, **SILENT)
    return out, report, counts


def _rows(folder):
    return [json.loads(line) for line in (folder / "rows.jsonl").read_text().splitlines()]


def test_tiny_sweep_rows_have_the_columns_and_sane_values(finished):
    out, report, counts = finished
    assert counts == {"run": 4, "cached": 0, "failed": 0}  # 2 trajectories, 2 baselines
    rows = _rows(out)
    criteria = {r["criterion"] for r in rows}
    assert criteria == {"no-es", "peak", "wmv", "emv", "tv (σ true)", "tv (σ estimated)"}
    baseline = [r for r in rows if r["criterion"].startswith("tv")]
    assert all(r["psnr"] > r["measured_psnr"] for r in baseline)
    for row in (r for r in rows if not r["criterion"].startswith("tv")):
        assert {"image", "degradation", "network", "criterion", "psnr", "peak", "gap"} <= set(row)
        assert 2 <= row["stop"] <= 40 and np.isfinite(row["psnr"])
        assert row["peak"] >= row["psnr"] - 1e-9 and row["gap"] >= -1e-9
        assert 5 < row["psnr"] < 60 and 15 < row["measured_psnr"] < 25  # σ = 25 input
    assert {r["image"] for r in rows} == {"a.png", "b.png"}
    text = report.read_text()
    assert "| degradation |" in text and "gaussian:25" in text
    assert "## Choosing the defaults" in text and "Chosen: **hourglass:width=8, " in text
    assert (out / "rows.csv").read_text().splitlines()[0].startswith("image,degradation")
    assert (out / "gap_vs_level.png").stat().st_size > 1000
    assert len(list((out / "curves").glob("*.png"))) == 2


def test_rerunning_a_sweep_runs_nothing_new(finished, images):
    out = finished[0]
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    _, counts = run_sweep(_sweep(images, baselines=["tv"]), out, **SILENT)
    assert counts == {"run": 0, "cached": 4, "failed": 0}
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == before
    with pytest.raises(ValueError, match="differs in iters"):
        run_sweep(_sweep(images, iters=50, baselines=["tv"]), out, **SILENT)


def test_a_reordered_sweep_continues_its_folder_but_other_jobs_do_not(images, tmp_path):
    out = tmp_path / "results"
    settings = {"degradations": ["gaussian:15", "gaussian:25"], "iters": 10}
    run_sweep(_sweep(images, **settings), out, **SILENT)
    reordered = {**settings, "degradations": ["gaussian:25", "gaussian:15"]}
    _, counts = run_sweep(_sweep(images, **reordered), out, **SILENT)
    assert counts == {"run": 0, "cached": 4, "failed": 0}
    assert json.loads((out / "sweep.json").read_text())["degradations"][0] == "gaussian:25"
    # a trajectory records its criteria in order, so swapping them asks for other jobs
    with pytest.raises(ValueError, match="differs in criteria"):
        run_sweep(_sweep(images, **reordered, criteria=["emv", "wmv"]), out, **SILENT)


def test_a_sweep_grown_by_an_image_continues_its_folder(images, tmp_path):
    out = tmp_path / "results"

    def on(*names, iters=10):
        return replace(_sweep(images, iters=iters), images=[str(images / n) for n in names])

    run_sweep(on("a.png"), out, **SILENT)
    _, counts = run_sweep(on("a.png", "b.png"), out, **SILENT)
    assert counts == {"run": 1, "cached": 1, "failed": 0}  # only b's run is new
    assert len(json.loads((out / "sweep.json").read_text())["images"]) == 2
    # a sweep without some of the folder's jobs, or with other steps, is another sweep
    with pytest.raises(ValueError, match="differs in images"):
        run_sweep(on("a.png"), out, **SILENT)
    with pytest.raises(ValueError, match="differs in iters"):
        run_sweep(on("a.png", "b.png", iters=20), out, **SILENT)


def test_report_for_another_patience_follows_the_stored_histories(finished, images, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(finished[0], out)
    sweep = _sweep(images, baselines=["tv"])
    rebuild_report(out, [25])
    rows = [r for r in _rows(out) if r["criterion"] == "emv" and r["patience"] == 25]
    cache = Cache(out / "runs")
    for job in (j for j in expand(sweep) if j.kind == "dip"):
        run = cache.load(job)
        trace = run["criteria"]["emv"]
        verdict = first_candidate(trace["steps"], trace["scores"], 25, trace["lower_is_better"])
        row = next(r for r in rows if r["image"] == run["job"]["image"])
        assert row["stop"] == verdict.best_step
        psnr_there = next(h["psnr"] for h in run["history"] if h["step"] == verdict.best_step)
        assert row["psnr"] == pytest.approx(psnr_there)


def test_parallel_workers_give_the_same_rows_as_serial(tmp_path, images):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    run_sweep(_sweep(images), serial, **SILENT)
    _, counts = run_sweep(_sweep(images), parallel, workers=2, **SILENT)
    assert counts["run"] == 2

    timings = ("seconds", "stop_seconds", "iterations_per_second")

    def comparable(folder):
        return sorted(
            ({k: v for k, v in r.items() if k not in timings} for r in _rows(folder)),
            key=lambda r: (r["image"], r["criterion"], r.get("patience") or 0),
        )  # fmt: skip

    # the same jobs, stops and steps; measurements equal to float rounding (a worker runs on one
    # thread, the serial run on two, and oneDNN splits a reduction by the thread count): 1e-6
    # relative, or 1e-4 absolute for the differences of two PSNRs (gap, accuracy), where a
    # rounding of 1e-5 dB in the peak is a larger share
    expected = [
        {
            k: pytest.approx(v, rel=1e-6, abs=1e-4) if isinstance(v, float) else v
            for k, v in row.items()
        }
        for row in comparable(serial)
    ]
    assert comparable(parallel) == expected


def test_osc_gets_its_own_run_and_an_accuracy(tmp_path, images):
    out = tmp_path / "results"
    sweep = _sweep(images, criteria=["emv", "osc"], iters=60)
    _, counts = run_sweep(sweep, out, **SILENT)
    assert counts["run"] == 4  # a plain and an OSC trajectory per image
    osc = [r for r in _rows(out) if r["criterion"] == "osc"]
    assert osc and all(0 < r["accuracy"] <= 1 for r in osc)
    report = (out / "report.md").read_text()
    assert "of 2 runs above 95 %" in report  # one OSC row per image at S = 10


def test_noise_seed_is_a_function_of_image_degradation_and_seed_only():
    d = parse_degradations(["gaussian:25"])[0]
    assert noise_seed("/x/a.png", d, 0) == noise_seed("/y/a.png", d, 0)
    assert noise_seed("a.png", d, 0) != noise_seed("a.png", d, 1)


def test_bad_sweeps_are_refused(tmp_path, images):
    with pytest.raises(ValueError, match="KIND:LEVEL"):
        parse_degradations(["blur:3"])
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"images": [str(images)], "colour": True}))
    with pytest.raises(ValueError, match="unknown settings colour"):
        Sweep.from_file(path)
    with pytest.raises(ValueError, match="unknown criterion"):
        expand(_sweep(images, criteria=["psnr-magic"]))


def test_cli_bench_run_and_report(finished, images, tmp_path, capsys):
    import shutil

    out = tmp_path / "r"
    shutil.copytree(finished[0], out)
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps(_sweep(images, baselines=["tv"]).to_dict()))
    code = cli.main(["bench", "run", "--sweep", str(sweep), "-o", str(out)])
    assert code == 0
    assert "0 runs done, 4 cached" in capsys.readouterr().err
    code = cli.main(["bench", "report", str(out), "--patience", "15", "30"])
    assert code == 0
    assert "S = 30" in (out / "report.md").read_text()
    assert cli.main(["bench", "report", str(tmp_path / "nothing")]) == cli.EXIT_USAGE


def test_inpainting_and_sr_jobs_run_their_baselines(tmp_path, images):
    names = ["tv", "telea", "navier-stokes", "biharmonic", "bicubic", "lanczos"]
    sweep = _sweep(images, degradations=["inpaint:0.3", "sr:2"], iters=20, baselines=names)
    jobs = expand(sweep)
    applied = {(j.degradation.kind, j.baseline) for j in jobs if j.kind == "baseline"}
    assert applied == {("inpaint", n) for n in names[1:4]} | {("sr", n) for n in names[4:]}
    out = tmp_path / "results"
    report, counts = run_sweep(sweep, out, **SILENT)
    assert counts == {"run": 14, "cached": 0, "failed": 0}  # 4 trajectories, 10 baselines
    rows = _rows(out)
    baseline = {(r["degradation"], r["criterion"]): r for r in rows if r.get("baseline")}
    label = {"inpaint": "inpaint:0.3", "sr": "sr:2"}
    assert set(baseline) == {(label[kind], name) for kind, name in applied}
    for (degradation, name), row in baseline.items():
        dip = next(r for r in rows if r["degradation"] == degradation and r["criterion"] == "peak")
        assert row["baseline"] == name and 0 < row["ssim"] <= 1 and row["seconds"] > 0
        assert 20 < row["psnr"] < 60  # the smooth 24² images: interpolation does well
        if degradation.startswith("inpaint"):
            assert row["psnr"] > row["measured_psnr"] + 10  # 30 % of the pixels were black
        else:
            assert row["measured_psnr"] is None and dip["measured_psnr"] is None  # other size
    lines = report.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| degradation |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[-len(names[1:]) :] == sorted(names[1:])  # after the criteria, no-es, peak
    sr = next(line for line in lines if line.startswith("| sr:2 |"))
    cells = dict(zip(columns, (c.strip() for c in sr.strip("|").split("|")), strict=True))
    assert cells["telea"] == "—" and cells["bicubic"] != "—" and cells["peak"] != "—"


def test_unknown_baseline_is_refused_with_close_matches(images):
    with pytest.raises(ValueError, match="Did you mean 'telea'") as caught:
        expand(_sweep(images, baselines=["telia"]))
    assert "inpaint: biharmonic, navier-stokes, telea" in str(caught.value)


def test_real_noise_jobs_read_the_shot_and_score_it_against_its_reference(tmp_path, images):
    folder = tmp_path / "real"
    folder.mkdir()
    reference = np.asarray(Image.open(images / "a.png"), dtype=np.float64)
    shot = reference + np.random.default_rng(1).normal(0, 6, reference.shape)
    shot = np.clip(np.round(shot), 0, 255)
    Image.fromarray(reference.astype(np.uint8)).save(folder / "scene_mean.png")
    Image.fromarray(shot.astype(np.uint8)).save(folder / "scene_real.png")
    sweep = _sweep(folder / "scene_real.png", degradations=["real"], baselines=["tv"])
    out = tmp_path / "results"
    report, counts = run_sweep(sweep, out, **SILENT)
    assert counts == {"run": 2, "cached": 0, "failed": 0}
    rows = _rows(out)
    assert {r["degradation"] for r in rows} == {"real"}
    std = float(np.std(shot - reference))
    expected_psnr = 10 * np.log10(255.0**2 / np.mean((shot - reference) ** 2))
    for row in rows:
        assert row["measured_psnr"] == pytest.approx(expected_psnr, abs=1e-6)
    oracle = next(r for r in rows if r["criterion"] == "tv (σ true)")
    assert oracle["sigma"] == pytest.approx(std, rel=1e-6)  # the std of shot − reference
    assert oracle["psnr"] > expected_psnr  # TV at the right σ removes some of the noise
    assert "| real |" in report.read_text()


def test_real_noise_needs_the_reference_file(tmp_path, images):
    with pytest.raises(ValueError, match="real noise has no level"):
        parse_degradations(["real:5"])
    with pytest.raises(ValueError, match=r"named X_real\.\* with references X_mean"):
        expand(_sweep(images, degradations=["real"]))  # a.png, b.png: not shots
    shot = tmp_path / "scene_real.png"
    Image.open(images / "a.png").save(shot)
    with pytest.raises(ValueError, match=r"scene_mean\.png is missing"):
        expand(_sweep(shot, degradations=["real"]))


def test_committed_sweep_caches_hold_only_their_sweeps_jobs(monkeypatch):
    """Every committed sweep file expands (its images are in ``../shared``), and a results folder
    named after it caches only that sweep's jobs: the runs hard-linked between the 256² sweeps
    must have the same keys in both, or a rerun would compute them again."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root.parent / "shared" / "data").is_dir():
        pytest.skip("needs ../shared/data beside the repository")
    monkeypatch.chdir(root)  # the sweeps' image paths are relative to the repository root
    files = sorted((root / "benchmarks" / "sweeps").glob("*.json"))
    assert len(files) >= 5
    checked = 0
    for path in files:
        keys = {job.key for job in expand(Sweep.from_file(path))}
        runs = root / "benchmarks" / "results" / path.stem / "runs"
        if runs.is_dir():
            cached = {p.name.removesuffix(".json.gz") for p in runs.glob("*.json.gz")}
            assert cached and cached <= keys, (path.name, sorted(cached - keys)[:3])
            checked += 1
    assert checked >= 3


def test_a_killed_sweep_continues_its_runs_from_their_checkpoints(images, tmp_path, monkeypatch):
    import autodip.api

    sweep = _sweep(images)
    whole = tmp_path / "whole"
    run_sweep(sweep, whole, **SILENT)
    real = autodip.api.restore

    def killed(*args, **kwargs):
        def kill(step, loss):
            if step == 25:
                raise KeyboardInterrupt

        return real(*args, **{**kwargs, "on_step": kill})

    monkeypatch.setattr(autodip.api, "restore", killed)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, checkpoint_every=10, **SILENT)
    assert len(list((out / "runs").glob("*.ckpt"))) == 1  # the first run, at step 20
    monkeypatch.setattr(autodip.api, "restore", real)
    _, counts = run_sweep(sweep, out, checkpoint_every=10, **SILENT)
    assert counts == {"run": 2, "cached": 0, "failed": 0}
    assert not list((out / "runs").glob("*.ckpt"))  # a finished run drops its checkpoint
    resumed = []
    for job in expand(sweep):
        one, other = Cache(whole / "runs").load(job), Cache(out / "runs").load(job)
        assert one["history"] == other["history"]  # bit for bit on the CPU
        assert {k: c["scores"] for k, c in one["criteria"].items()} == {
            k: c["scores"] for k, c in other["criteria"].items()
        }
        resumed.append(other.get("resumed_from_step"))
    assert resumed == [20, None]


def test_a_checkpoint_that_cannot_serve_is_dropped(images, tmp_path):
    sweep = _sweep(images)
    first, second = expand(sweep)
    out = tmp_path / "results"
    cache = Cache(out / "runs")
    cache.folder.mkdir(parents=True)
    cache.partial(first).write_bytes(b"not a checkpoint")  # damaged, or of another version
    _, counts = run_sweep(sweep, out, checkpoint_every=10, **SILENT)
    assert counts == {"run": 2, "cached": 0, "failed": 0}
    assert "resumed_from_step" not in cache.load(first)  # it started afresh
    cache.partial(second).write_bytes(b"left over")  # the job was cached by another route
    run_sweep(sweep, out, checkpoint_every=10, **SILENT)
    assert not list(cache.folder.glob("*.ckpt"))


def test_checkpoints_are_for_the_local_backend(images, tmp_path, capsys):
    argv = ["bench", "run", "--images", images, "--backend", "ray", "--checkpoint-every", "5",
            "-o", tmp_path / "out"]  # fmt: skip
    assert cli.main([str(a) for a in argv]) == 2
    assert "local backend" in capsys.readouterr().err


def test_sweep_runs_draw_the_perturbation_as_their_cache_was_made(tmp_path, images, monkeypatch):
    """The cached sweep runs were made with fresh draws, and a cache entry does not name the
    draw: a sweep must keep drawing fresh whatever the library's default."""
    import autodip.api
    from autodip.bench.run import SWEEP_DRAW

    seen = []
    restore = autodip.api.restore

    def spy(*args, **kwargs):
        seen.append(kwargs["fit_options"]["reg_noise_draw"])
        return restore(*args, **kwargs)

    monkeypatch.setattr(autodip.api, "restore", spy)
    run_sweep(_sweep(images, iters=4, criteria=["emv"]), tmp_path / "out", **SILENT)
    assert SWEEP_DRAW == "fresh" and seen and set(seen) == {"fresh"}
