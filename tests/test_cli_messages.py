"""What the command line says is what it does: networks, tiles, memory, outputs, progress."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.cli.common import Progress

FAST = ["--iters", "6", "--width", "8", "--monitor-every", "3", "--quiet", "--device", "cpu"]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _png(path, seed=0, size=(24, 20)):
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_the_memory_breakdown_adds_up_to_the_total(tmp_path, capsys):
    src = _png(tmp_path / "ok.png", size=(64, 64))
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--max-memory", "1K", *FAST],
                          capsys)  # fmt: skip
    assert code == cli.EXIT_USAGE
    total, parts = re.search(r"needs about ([\d.]+) MiB \((.*?) MiB\)", stderr).groups()
    names = [re.sub(r"[\d.]+$", "", part).strip() for part in parts.split(" + ")]
    assert names == ["parameters and optimiser", "activations", "buffers",
                     "safety margin (25%)", "fixed runtime overhead"]  # fmt: skip
    shown = [float(part.rsplit(" ", 1)[1]) for part in parts.split(" + ")]
    assert sum(shown) == pytest.approx(float(total), abs=1e-9)


@pytest.mark.parametrize("columns", [80, 60, 40, 24])
def test_the_progress_bar_fits_the_terminal_and_keeps_the_step(monkeypatch, capsys, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    with Progress(1500, True, label="denoising") as progress:
        progress(750, 0.0123)
        progress(1500, 0.0123)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines and all(len(line) < columns for line in lines)
    assert "1500/1500" in lines[-1] and "…" not in lines[-1]
    if columns >= 60:  # the important fields: step, time left, loss
        assert "left" in lines[-1] and "loss 1.23e-02" in lines[-1]


def test_an_output_that_is_a_folder_is_named_as_the_problem_first_time(tmp_path, capsys):
    src = _png(tmp_path / "ok.png")
    folder = tmp_path / "out"
    folder.mkdir()
    for extra in ([], ["--force"]):
        code, _, stderr = run(["denoise", src, "-o", folder, *extra, *FAST], capsys)
        assert code == cli.EXIT_USAGE
        assert "is a folder" in stderr and "--force" not in stderr
        assert f"-o '{folder / 'ok.png'}'" in stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("invert", [False, True])
def test_inpainting_with_nothing_to_fill_is_refused(tmp_path, capsys, invert):
    src = _png(tmp_path / "ok.png")
    mask = tmp_path / "mask.png"
    Image.fromarray(np.full((24, 20), 0 if invert else 255, np.uint8)).save(mask)
    argv = ["inpaint", src, "--mask", mask, "-o", tmp_path / "y.png", *FAST]
    code, _, stderr = run(argv + (["--mask-invert"] if invert else []), capsys)
    assert code == cli.EXIT_USAGE and not (tmp_path / "y.png").exists()
    assert "nothing to fill" in stderr and "--mask-invert" in stderr


def test_quiet_batch_prints_only_errors(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "a.png", 0)
    _png(src / "b.png", 1)
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "out", *FAST], capsys)
    assert code == cli.EXIT_OK and "done" not in stderr and "[1/2]" not in stderr
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "out", *FAST], capsys)
    assert code == cli.EXIT_FAILURE and "broken.png" in stderr  # a failure is an error: said


QUICK = ["--iters", "2", "--monitor-every", "1", "--stop", "none", "--device", "cpu"]
QUICK += ["--ensemble", "1"]  # one run: these tests are about single runs' messages


@pytest.mark.parametrize("net", [[], ["--net", "hourglass"]])
def test_the_network_named_is_the_network_run(tmp_path, capsys, monkeypatch, net):
    import autodip.reporting.files
    import autodip.reporting.html

    titles, plot_curves = [], autodip.reporting.files.plot_curves

    def plot(*args, **kwargs):
        titles.append(kwargs["title"])
        return plot_curves(*args, **kwargs)

    monkeypatch.setattr(autodip.reporting.files, "plot_curves", plot)
    monkeypatch.setattr(autodip.reporting.html, "write_html_report", lambda *a, **k: None)
    src = _png(tmp_path / "ok.png")
    argv = ["denoise", src, "-o", tmp_path / "y.png", *net, *QUICK, "--report", tmp_path / "r"]
    code, _, stderr = run(argv, capsys)
    assert code == 0 and "None" not in stderr, stderr
    assert "with hourglass (width 32)" in stderr  # the denoising default, named or not
    record = json.loads((tmp_path / "r" / "report.json").read_text())
    assert record["config"]["net"]["options"] == {"width": 32}
    assert record["config"]["net"]["parameters"] == 58_339
    assert titles == ["ok.png — hourglass (width 32; 58,339 parameters)"]


def test_inpainting_names_its_own_default_width(tmp_path, capsys):
    src = _png(tmp_path / "ok.png")
    mask = tmp_path / "mask.png"
    known = np.full((24, 20), 255, np.uint8)
    known[8:16, 6:14] = 0
    Image.fromarray(known).save(mask)
    argv = ["inpaint", src, "--mask", mask, "-o", tmp_path / "y.png", "--net", "hourglass", *QUICK]
    code, _, stderr = run(argv, capsys)
    assert code == 0 and "with hourglass (width 64)" in stderr, stderr


def _noisy_png(path, size, sigma):
    """A smooth image with Gaussian noise of ``sigma`` (0–255): σ̂ reads about ``sigma``."""
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] / max(size)
    clean = np.stack([0.5 + 0.2 * np.sin(4 * xx), 0.5 + 0.2 * np.cos(3 * yy), 0.3 + 0.4 * xx * yy])
    noisy = clean + np.random.default_rng(0).normal(0, sigma / 255, clean.shape)
    pixels = (np.clip(noisy, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize(
    ("size", "tile", "sigma", "width"),
    [
        ((221, 221), None, 15, 32),
        ((222, 222), None, 15, 64),
        ((222, 222), "64", 15, 32),
        ((222, 222), None, 50, 32),
    ],
)
def test_denoising_widens_its_default_network_from_3x128_squared_pixels(
    tmp_path, capsys, size, tile, sigma, width
):
    """221² = 48841 pixels is below the switch (3·128² = 49152), 222² above; a tile is what one
    network fits, so 64² tiles of a large image keep width 32; heavy noise (σ̂ ≥ 35) keeps width
    32 at any size."""
    src = _noisy_png(tmp_path / "ok.png", size, sigma)
    tiling = ["--tile", tile] if tile else []
    argv = ["denoise", src, "-o", tmp_path / "y.png", *QUICK, *tiling, "--report", tmp_path / "r"]
    code, _, stderr = run(argv, capsys)
    assert code == 0 and f"with hourglass (width {width})" in stderr, stderr


def test_list_nets_shows_what_each_task_runs(capsys):
    code, stdout, _ = run(["list", "nets"], capsys)
    assert code == 0
    assert re.search(r"denoise\s+hourglass width 32\s+58,339 params", stdout)
    assert re.search(
        r"hourglass width 64\s+231,363 params\n"
        r"\s+\(width 64 from 49152 pixels ≈ 222² unless σ̂ ≥ 35\)",
        stdout,
    )
    assert re.search(r"inpaint\s+hourglass width 64\s+231,363 params", stdout)
    assert re.search(r"sr\s+hourglass width 64\s+231,363 params", stdout)


def test_a_tiled_run_counts_tiles_and_iterations_truthfully(tmp_path, capsys):
    src = _png(tmp_path / "ok.png", size=(64, 64))
    loud = [a for a in FAST if a != "--quiet"]
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--tile", "32", *loud], capsys)
    assert code == 0
    assert "Ran 9 tiles of 6 iterations each (54 in all)" in stderr and " of 6 iter" in stderr
    assert "restored in 9 tiles of up to 32×32 pixels" in stderr


def test_an_interrupted_tiled_run_says_where_it_stopped(monkeypatch):
    import autodip.api

    real_fit = autodip.api.fit

    def interrupted_fit(*args, **kwargs):
        def ctrl_c(step, loss):
            if step == 2:
                raise KeyboardInterrupt

        return real_fit(*args, **{**kwargs, "on_step": ctrl_c})

    monkeypatch.setattr(autodip.api, "fit", interrupted_fit)
    noisy = np.random.default_rng(0).random((1, 40, 36)).astype(np.float32)
    result = autodip.api.denoise(noisy, iters=4, width=8, device="cpu", stop=None, tile=24,
                                     overlap=6)  # fmt: skip
    assert result.interrupted and result.config["tiling"]["count"] == 4
    assert result.reason == (
        "interrupted in tile 1 of 4; the 3 tiles not run keep their input pixels"
    )


def test_a_tile_too_small_is_named_as_the_tile(tmp_path, capsys):
    src = _png(tmp_path / "ok.png", size=(64, 64))
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--tile", "2", *FAST], capsys)
    assert code == cli.EXIT_USAGE and "image of" not in stderr
    assert "tiles of 2×2 pixels are too small" in stderr and "--tile 16" in stderr


@pytest.mark.parametrize("size", [(1, 32), (32, 1), (2, 9)])
def test_a_one_pixel_thin_image_is_restored_at_its_own_size(tmp_path, capsys, size):
    from autodip.io import read_image

    src = _png(tmp_path / "thin.png", size=size)
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", *QUICK], capsys)
    assert code == 0, stderr
    assert read_image(tmp_path / "y.png")[0].shape == (3, *size)
    height, width = size
    assert f"the {width}×{height} image was padded by replicating its edge pixels" in stderr


def test_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130(monkeypatch, capsys):
    """Loading the command line imports PyTorch (a second or more): a Ctrl-C then must end it
    as one during a run does, not with a traceback."""
    import sys
    import types

    import autodip.__main__ as entry

    class Loading(types.ModuleType):
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "autodip.cli", Loading("autodip.cli"))
    with pytest.raises(SystemExit) as exit_:
        entry.run()
    assert exit_.value.code == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "autodip: interrupted\n"


def test_a_reader_that_goes_away_ends_the_command_without_a_traceback(monkeypatch, tmp_path):
    import sys

    import autodip.__main__ as entry

    def gone():
        raise BrokenPipeError  # what `autodip list nets | head -1` meets

    monkeypatch.setattr(cli, "main", gone)
    with open(tmp_path / "stdout", "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        with pytest.raises(SystemExit) as exit_:
            entry.run()
    assert exit_.value.code == entry.EXIT_BROKEN_PIPE


@pytest.mark.parametrize("size", [(1, 1), (4, 4)])
def test_an_image_too_small_for_the_network_is_refused_before_the_run_is_described(
    tmp_path, capsys, size
):
    src = _png(tmp_path / "small.png", size=size)
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", "--device", "cpu"], capsys)
    assert code == cli.EXIT_USAGE
    assert len(stderr.strip().splitlines()) == 1 and "at least" in stderr, stderr
    assert not (tmp_path / "y.png").exists()


def test_an_unknown_option_points_to_its_own_commands_help(tmp_path, capsys):
    code, _, stderr = run(["denoise", tmp_path / "x.png", "-o", tmp_path / "y.png", "--bogus"],
                          capsys)  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert stderr == (
        "autodip: error: unrecognized arguments: --bogus (see `autodip denoise --help`)\n"
    )


def test_sixteen_bits_written_to_jpeg_are_said_to_be_lost(tmp_path, capsys):
    src = tmp_path / "deep.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((20, 24)) * 65535).astype(np.uint16)).save(src)
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.jpg", *FAST], capsys)
    assert code == cli.EXIT_OK
    assert "y.jpg keeps 8 bits per sample, the input has 16 (.png, .tiff" in stderr  # --quiet
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", *FAST], capsys)
    assert code == cli.EXIT_OK and "bits per sample" not in stderr


def test_a_misspelt_keyword_of_the_api_is_named_as_such():
    import autodip

    noisy = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    with pytest.raises(TypeError, match=r"unknown option 'itres'.*did you mean 'iters'"):
        autodip.denoise(noisy, itres=5, width=8, device="cpu")
    with pytest.raises(TypeError, match=r"'lr': it is a fit option; pass fit_options"):
        autodip.denoise(noisy, lr=0.1, width=8, device="cpu")


@pytest.mark.parametrize(("command", "hidden"), [("sr", ["--tile", "--window"]),
                                                  ("inpaint", ["--window"])])  # fmt: skip
def test_help_lists_only_the_options_a_command_takes(capsys, command, hidden):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # as read, not as wrapped
    assert all(f"{option} SIZE" not in text for option in hidden)
    assert "confirmed a stop" not in text  # its default budget waits for no criterion
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["denoise", "--help"])
    denoise = " ".join(capsys.readouterr().out.split())
    assert all(f"{option} SIZE" in denoise for option in hidden)
    assert "confirmed a stop" in denoise  # CIFS's stop extends its budget


def test_list_criteria_lines_up_and_names_the_papers(capsys):
    code, stdout, _ = run(["list", "criteria"], capsys)
    lines = stdout.splitlines()
    text = dict(line.split(maxsplit=1) for line in lines)
    starts = {line.index(text[line.split()[0]]) for line in lines}
    assert code == 0 and len(starts) == 1  # every summary in one column
    assert "Takagi, Ishizaki, Maeda" in text["cifs"]
    assert "Towards the Automation of Deep Image Prior" in text["osc"]
    assert "Early Stopping for Deep Image Prior" in text["wmv"]


def test_a_large_image_restored_whole_gets_a_note_and_tiles_are_suggested():
    from autodip.cli.parser import build_parser
    from autodip.cli.single import large_image_note

    def args(*extra):
        return build_parser().parse_args(["denoise", "in.png", "-o", "out.png", *extra])

    note = large_image_note(args(), 1024, 1024)
    assert "1024×1024 pixels" in note and "--tile 256" in note
    assert large_image_note(args(), 512, 512) is None  # 512² progressed per step as 256² did
    assert large_image_note(args(), 1024, 1024, tile=256) is None  # already in pieces
    assert large_image_note(args("--window", "256"), 1024, 1024) is None


def test_from_a_megapixel_the_command_line_tiles_unless_told_not_to():
    from autodip import defaults
    from autodip.cli.parser import build_parser
    from autodip.cli.single import auto_tile

    def tile(*extra, size=1024, command="denoise"):
        args = build_parser().parse_args([command, "in.png", "-o", "out.png", *extra])
        return auto_tile(args, size, size)

    assert defaults.AUTO_TILE_PIXELS == 1024 * 1024 and defaults.AUTO_TILE == 256
    assert tile() == 256
    assert tile("--mask", "m.png", command="inpaint") is None  # only denoising was measured
    assert tile(size=1023) is None  # below the line: whole
    assert tile("--tile", "128") == 128  # the user's tile wins
    whole_only = (
        ("--no-tile",), ("--window", "256"), ("--ensemble", "2"), ("--resume",),
        ("--ensemble-transforms", "dihedral"),
    )  # fmt: skip
    for whole in whole_only:
        assert tile(*whole) is None, whole
    assert tile("--factor", "4", command="sr", size=2048) is None  # SR is never tiled


def test_a_large_image_is_tiled_by_default_and_says_so(tmp_path, capsys, monkeypatch):
    """The megapixel line lowered to 48² so that a 64² image crosses it: tiled, said, and
    ``--no-tile`` fits it whole."""
    from autodip import defaults

    monkeypatch.setattr(defaults, "AUTO_TILE_PIXELS", 48 * 48)
    monkeypatch.setattr(defaults, "AUTO_TILE", 32)
    src = _png(tmp_path / "ok.png", size=(64, 64))
    loud = [a for a in FAST if a != "--quiet"]
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "y.png", *loud], capsys)
    assert code == 0
    assert "64×64 pixels: restored in tiles of 32² (the default from 48² pixels" in stderr
    assert "Ran 9 tiles of 6 iterations each" in stderr
    assert "--no-tile fits it whole), one run per tile" in stderr  # not the default ensemble
    assert "default ensemble" not in stderr and "member" not in stderr
    code, _, stderr = run(["denoise", src, "-o", tmp_path / "z.png", "--no-tile", *loud], capsys)
    assert code == 0 and "tiles" not in stderr
    code, _, stderr = run(
        ["denoise", src, "-o", tmp_path / "w.png", "--no-tile", "--tile", "32", *loud], capsys
    )
    assert code == 2 and "--no-tile and --tile contradict" in stderr
