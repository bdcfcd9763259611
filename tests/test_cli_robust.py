"""Folders, resume, memory limits, tiles, scientific inputs and scriptable output, via the CLI."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.io import read_image

FAST = ["--iters", "6", "--width", "8", "--monitor-every", "3", "--quiet", "--device", "cpu"]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _png(path, seed=0, size=(24, 20)):
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "a.png", 0)
    _png(src / "b.png", 1)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (src / "notes.txt").write_text("not an image")
    return src


def test_a_folder_is_restored_file_by_file_and_a_failure_does_not_stop_it(tmp_path, folder, capsys):
    out = tmp_path / "out"
    code, _, stderr = run(["denoise", folder, "-o", out, *FAST], capsys)
    assert code == cli.EXIT_FAILURE
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert "2 done, 0 skipped, 1 failed of 3" in stderr and "broken.png" in stderr
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, _, stderr = run(["denoise", folder, "-o", out, *FAST], capsys)
    assert "0 done, 2 skipped, 1 failed of 3" in stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing redone
    code, _, stderr = run(["denoise", folder, "-o", out, "--force", *FAST], capsys)
    assert "2 done, 0 skipped, 1 failed" in stderr


def test_a_glob_and_json_summary(tmp_path, folder, capsys):
    out = tmp_path / "out"
    code, stdout, _ = run(["denoise", str(folder / "[ab].png"), "-o", out, "--json", *FAST], capsys)
    assert code == cli.EXIT_OK
    summary = json.loads(stdout)
    assert [p.rsplit("/", 1)[1] for p in summary["done"]] == ["a.png", "b.png"]
    assert summary["failed"] == [] and summary["interrupted"] is False


def test_batch_output_must_be_a_folder(tmp_path, folder, capsys):
    target = _png(tmp_path / "file.png")
    code, _, stderr = run(["denoise", folder, "-o", target, *FAST], capsys)
    assert code == cli.EXIT_USAGE and "must be a folder" in stderr


def test_single_run_json_is_the_record(tmp_path, capsys):
    src = _png(tmp_path / "x.png")
    argv = ["denoise", src, "-o", tmp_path / "y.png", "--json", "--ensemble", "1", *FAST]
    code, stdout, stderr = run(argv, capsys)
    assert code == 0 and stderr == ""
    record = json.loads(stdout)
    assert record["result"]["iterations"] == 6 and record["command"] == "denoise"


def test_summary_paragraph_ends_a_normal_run(tmp_path, capsys):
    src = _png(tmp_path / "x.png")
    loud = [a for a in FAST if a != "--quiet"]
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", *loud], capsys)
    assert code == 0
    assert stderr.strip().splitlines()[-1].startswith("autodip: Denoising of")


@pytest.mark.parametrize("stop", [["--stop", "none"], []])  # [] = the default, CIFS
def test_interrupted_run_resumes_to_the_same_result(tmp_path, capsys, monkeypatch, stop):
    import autodip.api

    src = _png(tmp_path / "x.png")
    argv = ["--iters", "40", "--width", "8", "--monitor-every", "5", "--quiet", "--device", "cpu",
            "--precision", "fp32", "--ensemble", "1", *stop]  # fmt: skip
    whole = tmp_path / "whole.png"
    assert run(["denoise", src, "-o", whole, *argv], capsys)[0] == 0

    out = tmp_path / "resumed.png"
    real_fit = autodip.api.fit

    def killed_fit(*args, **kwargs):
        def kill(step, loss):
            if step == 27:
                raise KeyboardInterrupt

        return real_fit(*args, **{**kwargs, "on_step": kill})

    monkeypatch.setattr(autodip.api, "fit", killed_fit)
    code, _, stderr = run(["denoise", src, "-o", out, "--checkpoint-every", "10", *argv], capsys)
    assert code == cli.EXIT_INTERRUPTED and "--resume" in stderr
    ckpt = tmp_path / "resumed.png.ckpt"
    assert ckpt.exists() and out.exists()
    monkeypatch.setattr(autodip.api, "fit", real_fit)
    report = tmp_path / "rep"
    code, _, stderr = run(
        ["denoise", src, "-o", out, "--checkpoint-every", "10", "--resume", "--report", report,
         *argv], capsys,
    )  # fmt: skip
    assert code == 0, stderr
    assert np.array_equal(read_image(out)[0], read_image(whole)[0])
    assert not ckpt.exists()  # a finished run removes its checkpoint
    assert json.loads((report / "report.json").read_text())["config"]["resumed_from_step"] == 20


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, capsys):
    src = _png(tmp_path / "x.png")
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--resume", *FAST], capsys)
    assert code == cli.EXIT_USAGE and "no checkpoint" in stderr


def test_a_run_over_the_memory_limit_is_refused_before_it_starts(tmp_path, capsys):
    src = _png(tmp_path / "x.png")
    out = tmp_path / "y.png"
    code, _, stderr = run(["denoise", src, "-o", out, "--max-memory", "2M", *FAST], capsys)
    assert code == cli.EXIT_USAGE
    assert "needs about" in stderr and "--tile" in stderr and not out.exists()
    code, _, stderr = run(["denoise", src, "-o", out, "--max-memory", "lots", *FAST], capsys)
    assert code == cli.EXIT_USAGE and "memory size" in stderr


def test_tiles_and_the_html_report(tmp_path, capsys):
    src = _png(tmp_path / "x.png", size=(40, 36))
    report = tmp_path / "rep"
    code, _, stderr = run(
        ["denoise", src, "-o", tmp_path / "y.png", "--tile", "24", "--report", report, *FAST],
        capsys,
    )
    assert code == 0, stderr
    data = json.loads((report / "report.json").read_text())
    assert data["config"]["tiling"] == {"tile": 24, "overlap": 6, "count": 4}
    assert len(data["config"]["tiles"]) == 4
    html = (report / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3
    assert "http://" not in html and "https://" not in html  # self-contained
    code, _, stderr = run(["sr", src, "--factor", "2", "-o", tmp_path / "z.png", "--tile", "16",
                           *FAST], capsys)  # fmt: skip
    assert code == cli.EXIT_USAGE and "--tile is for denoise" in stderr


def test_float_data_outside_unit_range_comes_back_in_its_own_range(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = (rng.random((24, 20)) * 3000 - 500).astype(np.float32)  # e.g. counts with an offset
    src, out, report = tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "rep"
    np.save(src, data)
    code, _, stderr = run(["denoise", src, "-o", out, "--report", report, *FAST], capsys)
    assert code == 0, stderr
    restored = np.load(out)
    assert restored.dtype == np.float32 and restored.shape == data.shape
    assert restored.min() >= data.min() - 1e-3 and restored.max() <= data.max() + 1e-3
    assert restored.max() - restored.min() > 100  # not squashed into [0, 1]
    recorded = json.loads((report / "report.json").read_text())["input"]["value_range"]
    assert recorded == pytest.approx([float(data.min()), float(data.max())])


def test_multispectral_input_gets_a_network_with_as_many_channels(tmp_path, capsys):
    cube = np.random.default_rng(0).random((24, 20, 5)).astype(np.float32)
    src, out, report = tmp_path / "cube.npy", tmp_path / "out.npy", tmp_path / "rep"
    np.save(src, cube)
    code, _, stderr = run(["denoise", src, "-o", out, "--report", report, *FAST], capsys)
    assert code == 0, stderr
    assert np.load(out).shape == cube.shape
    record = json.loads((report / "report.json").read_text())
    assert record["input"]["shape_chw"] == [5, 24, 20]
    assert "emv" in record["config"]["task"]["stop_note"] and "emv" in record["criteria"]


def test_sixteen_bit_png_stays_sixteen_bit(tmp_path, capsys):
    from autodip.io import write_image

    pixels = np.random.default_rng(0).random((3, 24, 20)).astype(np.float32)
    src, out = tmp_path / "x16.png", tmp_path / "y16.png"
    write_image(src, pixels, bit_depth=16)
    assert read_image(src)[1].bit_depth == 16
    code, _, stderr = run(["denoise", src, "-o", out, *FAST], capsys)
    assert code == 0, stderr
    assert read_image(out)[1].bit_depth == 16


def test_inpaint_batch_matches_masks_by_name_and_sr_batch(tmp_path, capsys):
    src, masks = tmp_path / "in", tmp_path / "masks"
    src.mkdir()
    masks.mkdir()
    for name in ("p", "q"):
        _png(src / f"{name}.png", seed=len(name))
        mask = np.full((24, 20), 255, np.uint8)
        mask[4:9, 3:8] = 0
        Image.fromarray(mask).save(masks / f"{name}_mask.png")
    code, _, stderr = run(["inpaint", src, "--mask", masks, "-o", tmp_path / "f", *FAST], capsys)
    assert code == 0, stderr
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["p.png", "q.png"]
    (masks / "q_mask.png").unlink()
    code, _, stderr = run(["inpaint", src, "--mask", masks, "-o", tmp_path / "g", *FAST], capsys)
    assert code == cli.EXIT_FAILURE and "no mask for q.png" in stderr
    code, _, stderr = run(["sr", src, "--factor", "2", "-o", tmp_path / "s", *FAST], capsys)
    assert code == 0, stderr
    assert read_image(tmp_path / "s" / "p.png")[0].shape == (3, 48, 40)


def test_sr_x8_uses_its_own_published_defaults(tmp_path, capsys, monkeypatch):
    import dataclasses

    import autodip.api

    seen = {}
    real_fit = autodip.api.fit

    def short_fit(y, net, operator, config, **kwargs):
        seen.update(iters=config.max_iters, noise=config.reg_noise_std)
        return real_fit(y, net, operator, dataclasses.replace(config, max_iters=2), **kwargs)

    monkeypatch.setattr(autodip.api, "fit", short_fit)
    src = _png(tmp_path / "x.png", size=(8, 8))
    argv = ["sr", src, "--factor", "8", "-o", tmp_path / "y.png", "--width", "8", "--quiet"]
    assert run(argv, capsys)[0] == 0
    assert seen == {"iters": 4000, "noise": 0.05}


def test_an_interrupted_result_is_not_skipped_by_the_next_batch(tmp_path, folder, capsys):
    out = tmp_path / "out"
    code, _, _ = run(["denoise", str(folder / "[ab].png"), "-o", out, *FAST], capsys)
    assert code == 0
    (out / "a.png.interrupted").write_text("interrupted after 3 iterations\n")
    code, stdout, _ = run(["denoise", str(folder / "[ab].png"), "-o", out, "--json", *FAST],
                          capsys)  # fmt: skip
    summary = json.loads(stdout)  # --quiet prints no summary: read the JSON one
    assert (len(summary["done"]), len(summary["skipped"])) == (1, 1)
    assert not (out / "a.png.interrupted").exists()


def test_batch_resume_starts_afresh_where_there_is_no_checkpoint(tmp_path, folder, capsys):
    out = tmp_path / "out"
    argv = ["denoise", str(folder / "[ab].png"), "-o", out, "--checkpoint-every", "2", "--resume"]
    code, stdout, _ = run([*argv, "--json", *FAST], capsys)
    assert code == 0 and len(json.loads(stdout)["done"]) == 2


def test_a_file_whose_name_looks_like_a_glob_is_a_file(tmp_path, capsys):
    src = _png(tmp_path / "photo[1].png")
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "out.png", *FAST], capsys)
    assert code == 0, stderr


def test_tiles_stop_at_ctrl_c_and_refuse_checkpoints(tmp_path, capsys, monkeypatch):
    import autodip.api

    real_fit = autodip.api.fit
    calls = []

    def interrupted_fit(*args, **kwargs):
        calls.append(1)

        def boom(step, loss):
            if step == 2:
                raise KeyboardInterrupt

        return real_fit(*args, **{**kwargs, "on_step": boom})

    monkeypatch.setattr(autodip.api, "fit", interrupted_fit)
    src = _png(tmp_path / "x.png", size=(40, 36))
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--tile", "24", *FAST], capsys)
    assert code == cli.EXIT_INTERRUPTED and len(calls) == 1  # the other tiles did not run
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "z.png", "--tile", "24",
                           "--checkpoint-every", "5", *FAST], capsys)  # fmt: skip
    assert code == cli.EXIT_USAGE and "not with --tile" in stderr


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if a run starts: the refusals below must come before any fitting."""
    import autodip.api

    def refused(*args, **kwargs):
        raise AssertionError("the run started although the command should have been refused")

    monkeypatch.setattr(autodip.api, "fit", refused)


def _one_line_refusal(code, stderr):
    assert code == cli.EXIT_USAGE, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert stderr.startswith("autodip: error: ")


@pytest.mark.parametrize("shape", [(3, 24, 20), (24, 20), (24, 20, 3), (1, 2, 24, 20)])
def test_an_array_is_written_back_in_its_layout(tmp_path, capsys, shape):
    data = np.random.default_rng(0).random(shape).astype(np.float32)
    np.save(tmp_path / "x.npy", data)
    code, _, _ = run(["denoise", tmp_path / "x.npy", "-o", tmp_path / "y.npy", *FAST], capsys)
    assert code == cli.EXIT_OK
    back = np.load(tmp_path / "y.npy")
    assert back.shape == shape and back.dtype == np.float32


def test_integer_arrays_are_not_called_float_data(tmp_path, capsys):
    data = np.random.default_rng(0).integers(-500, 3000, (24, 20)).astype(np.int64)
    np.save(tmp_path / "x.npy", data)
    loud = [a for a in FAST if a != "--quiet"]
    code, _, stderr = run(["denoise", tmp_path / "x.npy", "-o", tmp_path / "y.npy", *loud], capsys)
    assert code == cli.EXIT_OK
    assert "int64 data in [" in stderr and "float" not in stderr and "32-bit" not in stderr
    argv = ["denoise", tmp_path / "x.npy", "-o", tmp_path / "z.npy", "--json", *FAST]
    record = json.loads(run(argv, capsys)[1])
    assert record["input"]["dtype"] == "int64" and record["input"]["layout"] == "HW"
    back = np.load(tmp_path / "z.npy")
    assert back.shape == data.shape and data.min() <= back.min() <= back.max() <= data.max()


def _gif(path, frames=3):
    images = [Image.fromarray(np.full((24, 20, 3), 40 * i, np.uint8)) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100)
    return path


@pytest.mark.parametrize("frame", [None, "3", "-1"])
def test_an_animation_is_refused_before_the_run(tmp_path, capsys, no_fit, frame):
    argv = ["denoise", _gif(tmp_path / "a.gif"), "-o", tmp_path / "y.png", *FAST]
    code, _, stderr = run(argv + (["--frame", frame] if frame else []), capsys)
    if frame == "-1":  # refused by the parser
        assert code == cli.EXIT_USAGE and "counted from 0" in stderr
    else:
        _one_line_refusal(code, stderr)
        expected = "there is no frame 3" if frame else "animation of 3 frames; restore one of"
        assert expected in stderr
        if frame is None:
            assert "--frame N (0 = the first, 2 = the last)" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]


def test_frame_picks_one_frame_of_an_animation(tmp_path, capsys):
    gif = _gif(tmp_path / "a.gif")
    Image.fromarray(np.full((24, 20, 3), 81, np.uint8)).save(tmp_path / "ref.png")  # ≈ frame 2
    argv = ["denoise", gif, "-o", tmp_path / "y.png", "--frame", "2", "--json", *FAST]
    code, stdout, _ = run([*argv, "--reference", tmp_path / "ref.png"], capsys)
    record = json.loads(stdout)
    assert code == cli.EXIT_OK and record["input"]["frame"] == 2
    assert record["metrics"]["psnr_input"] > 40  # the input is frame 2 (gray 80), not frame 0
    code, stdout, _ = run(["denoise", "--help"], capsys)
    assert code == cli.EXIT_OK and "counted from 0 (0 = the first" in " ".join(stdout.split())


def _rgba(path):
    rgba = np.random.default_rng(0).integers(0, 256, (24, 20, 4)).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


@pytest.mark.parametrize("ext", [".jpg", ".bmp"])
def test_alpha_is_not_dropped_silently(tmp_path, capsys, no_fit, ext):
    code, _, stderr = run(["denoise", _rgba(tmp_path / "a.png"), "-o", tmp_path / f"y{ext}",
                           *FAST], capsys)  # fmt: skip
    _one_line_refusal(code, stderr)
    assert "alpha" in stderr and "write .png or .tiff" in stderr and "--drop-alpha" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_drop_alpha_writes_the_colour_channels_only(tmp_path, capsys):
    argv = ["denoise", _rgba(tmp_path / "a.png"), "-o", tmp_path / "y.jpg", "--drop-alpha", *FAST]
    assert run(argv, capsys)[0] == cli.EXIT_OK
    pixels, info = read_image(tmp_path / "y.jpg")
    assert pixels.shape == (3, 24, 20) and info.alpha is None


def _damaged_jpeg(path):
    from autodip.io import write_image

    rng = np.random.default_rng(0)
    write_image(path, rng.random((3, 24, 20)).astype(np.float32))
    data = path.read_bytes()
    sos = data.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    garbage = rng.integers(0, 255, len(data) - start - 2, dtype=np.uint8).tobytes()
    path.write_bytes(data[:start] + garbage + data[-2:])  # valid header, garbage, end marker
    return path


def test_a_damaged_jpeg_is_refused_before_the_run(tmp_path, capsys, no_fit):
    bad = _damaged_jpeg(tmp_path / "bad.jpg")
    code, _, stderr = run(["denoise", bad, "-o", tmp_path / "y.png", *FAST], capsys)
    _one_line_refusal(code, stderr)
    assert "truncated or corrupt (Corrupt JPEG data" in stderr and "--allow-truncated" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jpg"]


def test_allow_truncated_restores_a_damaged_input_with_a_warning(tmp_path, capsys):
    bad = _damaged_jpeg(tmp_path / "bad.jpg")
    argv = ["denoise", bad, "-o", tmp_path / "y.png", "--allow-truncated", "--json", *FAST]
    code, stdout, stderr = run(argv, capsys)
    assert code == cli.EXIT_OK and (tmp_path / "y.png").exists()
    assert stderr.startswith("autodip: warning: ") and "is damaged (Corrupt JPEG data" in stderr
    assert json.loads(stdout)["input"]["damaged"].startswith("Corrupt JPEG data")


def _spell_as_input(kind, src, tmp_path):
    """Another name for the file ``src`` (in ``tmp_path``), spelled as ``kind`` says."""
    if kind == "dot":
        return Path(".") / src.name
    if kind == "dotdot":
        (tmp_path / "sub").mkdir()
        return tmp_path / "sub" / ".." / src.name
    if kind == "symlink":
        (tmp_path / "link.png").symlink_to(src)
        return tmp_path / "link.png"
    if kind == "hardlink":
        os.link(src, tmp_path / "hard.png")
        return tmp_path / "hard.png"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["dot", "dotdot", "symlink", "hardlink"])
def test_the_input_is_never_overwritten_whatever_its_spelling(tmp_path, capsys, monkeypatch,
                                                              no_fit, kind):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    src = _png(tmp_path / "v2.png")
    before = src.read_bytes()
    out = _spell_as_input(kind, src, tmp_path)
    code, _, stderr = run(["denoise", src, "-o", out, "-f", *FAST], capsys)
    assert code == cli.EXIT_USAGE and len(stderr.strip().splitlines()) == 1
    assert "is the input" in stderr
    assert src.read_bytes() == before


def test_another_case_of_the_input_name_is_refused_only_where_it_is_the_same_file(
    tmp_path, capsys, monkeypatch
):
    """On a case-insensitive file system ``V2.PNG`` is ``v2.png`` and must be refused; on a
    case-sensitive one it is another file, written beside the untouched input."""
    monkeypatch.chdir(tmp_path)
    src = _png(tmp_path / "v2.png")
    before = src.read_bytes()
    upper = src.with_name(src.name.upper())
    insensitive = upper.exists()
    code, _, stderr = run(["denoise", src, "-o", upper, "-f", *FAST], capsys)
    assert src.read_bytes() == before
    if insensitive:
        assert code == cli.EXIT_USAGE and "is the input" in stderr
    else:
        assert code == cli.EXIT_OK, stderr
        assert {p.name for p in tmp_path.iterdir()} >= {"v2.png", "V2.PNG"}


def test_reference_mask_and_report_never_overwrite_an_input(tmp_path, capsys, no_fit):
    src, ref = _png(tmp_path / "x.png"), _png(tmp_path / "ref.png", seed=1)
    mask = tmp_path / "m.png"
    Image.fromarray(np.full((24, 20), 255, np.uint8)).save(mask)
    before = {p: p.read_bytes() for p in (src, ref, mask)}
    code, _, stderr = run(["denoise", src, "-o", ref, "--reference", ref, "-f", *FAST], capsys)
    assert code == cli.EXIT_USAGE and "is the reference" in stderr
    code, _, stderr = run(["inpaint", src, "--mask", mask, "-o", mask, "-f", *FAST], capsys)
    assert code == cli.EXIT_USAGE and "is the mask" in stderr
    curves = _png(tmp_path / "curves.png")  # what --report DIR writes as DIR/curves.png
    before[curves] = curves.read_bytes()
    code, _, stderr = run(["denoise", curves, "-o", tmp_path / "y.png", "--report", tmp_path,
                           "-f", *FAST], capsys)  # fmt: skip
    assert code == cli.EXIT_USAGE and "is the input" in stderr
    assert {p: p.read_bytes() for p in before} == before


def test_a_batch_never_overwrites_its_inputs(tmp_path, folder, capsys, no_fit):
    before = {p: p.read_bytes() for p in folder.iterdir()}
    code, _, stderr = run(["denoise", str(folder / "[ab].png"), "-o", folder, "-f", *FAST],
                          capsys)  # fmt: skip
    _one_line_refusal(code, stderr)
    assert "holds the inputs" in stderr
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.parametrize("where", ["output", "report", "checkpoint", "batch", "read-only"])
def test_an_unwritable_destination_is_refused_before_the_run(
    tmp_path, capsys, no_fit, where, monkeypatch
):
    src = _png(tmp_path / "ok.png")
    argv = ["denoise", src, "-o", tmp_path / "y.png", *FAST]
    if where == "output":
        argv[3] = src / "x.png"  # a folder that cannot be created: ok.png is a file
    elif where == "report":
        argv += ["--report", src / "rep"]
    elif where == "checkpoint":
        (tmp_path / "y.png.ckpt").mkdir()
        argv += ["--checkpoint-every", "3"]
    elif where == "batch":
        argv[1:4] = [str(tmp_path / "*.png"), "-o", src / "out"]
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        argv[3] = tmp_path / "ro" / "sub" / "y.png"
        if os.geteuid() == 0:  # root writes anywhere: make the folder refuse as it would a user
            import tempfile

            real = tempfile.mkstemp

            def refuse(*args, **kwargs):
                if Path(kwargs.get("dir", "")) == tmp_path / "ro":
                    raise PermissionError(13, "Permission denied")
                return real(*args, **kwargs)

            monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, _, stderr = run(argv, capsys)
    assert code == cli.EXIT_USAGE, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ok.png"] + (["y.png.ckpt"] if where == "checkpoint" else [])
        + (["ro"] if where == "read-only" else [])
    )  # fmt: skip


@pytest.mark.parametrize("fails", ["output", "beside the output"])
def test_a_result_that_cannot_be_written_after_the_run_is_rescued(tmp_path, capsys, monkeypatch,
                                                                  fails):  # fmt: skip
    import tempfile

    import autodip.io

    real_write = autodip.io.write_image
    broken = tmp_path / "out"  # e.g. the disk filled up or the permissions changed during the run

    def full_disk(path, *args, **kwargs):
        if Path(path).parent == broken and (fails != "output" or Path(path).name == "y.png"):
            raise autodip.io.ImageWriteError(path, "no space left on device")
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(autodip.io, "write_image", full_disk)
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    src = _png(tmp_path / "x.png")
    code, _, stderr = run(["denoise", src, "-o", broken / "y.png", *FAST], capsys)
    assert code == cli.EXIT_FAILURE and "no space left on device" in stderr
    rescued = (broken if fails == "output" else spare) / "y.autodip-rescued.png"
    assert f"'{rescued}'" in stderr and len(stderr.strip().splitlines()) == 1
    assert read_image(rescued)[0].shape == (3, 24, 20)


def test_sigterm_ends_a_run_as_ctrl_c_does_with_exit_143(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    src, out = _png(tmp_path / "x.png"), tmp_path / "y.png"
    ckpt = tmp_path / "y.png.ckpt"
    argv = [sys.executable, "-m", "autodip", "denoise", src, "-o", out, "--iters", "100000",
            "--width", "4", "--stop", "none", "--checkpoint-every", "5", "--monitor-every", "5",
            "--device", "cpu", "--precision", "fp32", "--quiet", "--ensemble", "1"]  # fmt: skip
    proc = subprocess.Popen([str(a) for a in argv], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60  # a bound, not the expected time (about 2 s)
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # as SLURM, `docker stop` or `timeout` do
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == cli.EXIT_TERMINATED, stderr
    assert "SIGTERM" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert read_image(out)[0].shape == (3, 24, 20) and ckpt.exists()
    assert (tmp_path / "y.png.interrupted").exists()


def test_sigterm_stops_a_batch_and_the_handler_is_restored(tmp_path, folder, capsys, monkeypatch):
    import signal

    import autodip.api

    def unhandled(signum, frame):
        raise AssertionError("SIGTERM reached the handler the CLI should have replaced")

    real_fit = autodip.api.fit

    def terminated_fit(*args, **kwargs):
        def terminate(step, loss):
            if step == 3:
                os.kill(os.getpid(), signal.SIGTERM)

        return real_fit(*args, **{**kwargs, "on_step": terminate})

    monkeypatch.setattr(autodip.api, "fit", terminated_fit)
    out = tmp_path / "out"
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        code, _, stderr = run(["denoise", str(folder / "[ab].png"), "-o", out, *FAST], capsys)
        assert signal.getsignal(signal.SIGTERM) is unhandled
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == cli.EXIT_TERMINATED, stderr
    assert "terminated (SIGTERM)" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "a.png.interrupted"]  # b not run


@pytest.mark.parametrize("case", ["report file", "report folder", "inside the output"])
def test_the_output_is_never_a_report_file_or_the_report_folder(tmp_path, capsys, no_fit, case):
    src = _png(tmp_path / "x.png")
    output, report = {
        "report file": (tmp_path / "rep" / "curves.png", tmp_path / "rep"),
        "report folder": (tmp_path / "rep.png", tmp_path / "rep.png"),
        "inside the output": (tmp_path / "y.png", tmp_path / "y.png" / "rep"),
    }[case]
    code, _, stderr = run(["denoise", src, "-o", output, "--report", report, *FAST], capsys)
    _one_line_refusal(code, stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


@pytest.mark.parametrize("checkpointing", [["--checkpoint-every", "3"], []])
def test_a_checkpoint_is_kept_unless_resume_or_force(tmp_path, capsys, no_fit, checkpointing):
    src = _png(tmp_path / "x.png")
    ckpt = tmp_path / "y.png.ckpt"
    ckpt.write_bytes(b"an unfinished run")
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", *checkpointing, *FAST],
                          capsys)  # fmt: skip
    _one_line_refusal(code, stderr)
    assert "--resume" in stderr and ckpt.read_bytes() == b"an unfinished run"


def test_an_interrupted_output_opens_its_own_report_only(tmp_path, capsys):
    src, output = _png(tmp_path / "x.png"), tmp_path / "y.png"
    _png(output, seed=3)
    (tmp_path / "y.png.interrupted").write_text("interrupted after 3 iterations\n")
    other, own = tmp_path / "other", tmp_path / "own"
    for folder, recorded in ((other, tmp_path / "z.png"), (own, output)):
        folder.mkdir()
        (folder / "report.json").write_text(json.dumps({"output": str(recorded)}))
    before = output.read_bytes()
    code, _, stderr = run(["denoise", src, "-o", output, "--report", other, *FAST], capsys)
    _one_line_refusal(code, stderr)
    assert "pass --force" in stderr and output.read_bytes() == before
    code, _, stderr = run(["denoise", src, "-o", output, "--report", own, *FAST], capsys)
    assert code == cli.EXIT_OK, stderr
    assert json.loads((own / "report.json").read_text())["output"] == str(output)
    assert json.loads((other / "report.json").read_text()) == {"output": str(tmp_path / "z.png")}


@pytest.mark.parametrize("case", ["report is output", "named like an image"])
def test_a_batch_that_cannot_work_is_refused_in_one_line(tmp_path, folder, capsys, no_fit, case):
    glob = str(folder / "[ab].png")
    argv = {
        "report is output": [glob, "-o", tmp_path / "out", "--report", tmp_path / "out"],
        "named like an image": [glob, "-o", tmp_path / "o1.png"],
    }[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, _, stderr = run(["denoise", *argv, "-f", *FAST], capsys)
    _one_line_refusal(code, stderr)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_glob_names_images_only(tmp_path, folder, capsys):
    code, stdout, _ = run(["denoise", str(folder / "*"), "-o", tmp_path / "out", "--json", *FAST],
                          capsys)  # fmt: skip
    summary = json.loads(stdout)
    assert code == cli.EXIT_FAILURE  # broken.png
    assert len(summary["done"]) == 2 and [Path(f["input"]).name for f in summary["failed"]] == [
        "broken.png"
    ]  # notes.txt is not an input, as it is not in a folder


@pytest.mark.parametrize(
    "alone",
    [
        ["--tile-overlap", "8"],
        ["--stage-fraction", "1/3"],  # even at its default value: given alone, it is a mistake
        ["--ensemble-transforms", "none", "--ensemble", "1"],  # one run: nothing to vary
        ["--tile", "8"],
        ["--patience", "50", "--stop", "none"],
    ],
)
def test_an_option_that_would_change_nothing_or_cannot_work_is_refused(
    tmp_path, capsys, no_fit, alone
):
    src = _png(tmp_path / "x.png")
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", *alone, *FAST], capsys)
    _one_line_refusal(code, stderr)
    assert f"{alone[0]} has no effect" in stderr or "too small" in stderr


@pytest.mark.parametrize("device", ["foo", "cuda:99"])
def test_an_unknown_device_is_refused_before_anything_is_said(tmp_path, capsys, no_fit, device):
    src = _png(tmp_path / "x.png")
    argv = ["denoise", src, "-o", tmp_path / "y.png", "--iters", "4", "--device", device]
    _one_line_refusal(*run(argv, capsys)[::2])


def test_a_tiled_run_shows_a_bar_per_tile(tmp_path, capsys, monkeypatch):
    from autodip.cli import single

    labels, steps, real = [], [], single.Progress

    def progress(total, enabled, label, monitor_every):
        labels.append(label)
        return real(total, False, label=label, monitor_every=monitor_every)

    monkeypatch.setattr(single, "Progress", progress)
    monkeypatch.setattr(single.MemberProgress, "__call__", lambda self, step, loss: steps.append(
        (labels[-1], step)))  # fmt: skip
    src = _png(tmp_path / "x.png", size=(40, 36))
    argv = ["denoise", src, "-o", tmp_path / "y.png", "--tile", "24", *FAST]
    argv.remove("--quiet")
    code, _, stderr = run(argv, capsys)
    assert code == cli.EXIT_OK, stderr
    assert labels == [f"denoising tile {k}/4" for k in (1, 2, 3, 4)]
    assert [label for label, step in steps if step == 6] == labels  # each tile's steps shown


def test_force_starts_afresh_and_drops_the_old_checkpoint(tmp_path, capsys):
    src = _png(tmp_path / "x.png")
    ckpt = tmp_path / "y.png.ckpt"
    ckpt.write_bytes(b"an unfinished run")
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--force", *FAST], capsys)
    assert code == cli.EXIT_OK, stderr
    assert not ckpt.exists()  # a later --resume cannot continue the old run over this result


def test_the_progress_bar_appears_with_the_first_step():
    from autodip.cli.common import Progress

    with Progress(10, True) as bar:
        assert not bar.progress.live.is_started  # a refusal now would stand on its own line
        bar(1, 0.5)
        assert bar.progress.live.is_started
    assert not bar.progress.live.is_started
