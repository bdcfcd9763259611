"""Bad option values, sweep files and criterion options: one line, exit 2, nothing written."""

import json

import numpy as np
import pytest
from PIL import Image

from autodip import cli
from autodip.core.geometry import deepest_depth

FAST = ["--iters", "3", "--width", "8", "--quiet", "--device", "cpu"]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ok_png(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "ok.png"
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(path)
    return path


def assert_one_line_usage_error(code, stderr, *fragments):
    assert code == cli.EXIT_USAGE, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autodip: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


def assert_nothing_written(folder, *inputs):
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in inputs)


# --- item 6: a network too deep for the image -------------------------------------------------


@pytest.mark.parametrize(
    ("net", "depth", "deepest"),
    [("hourglass", 20, 5), ("hourglass", 15, 5), ("hourglass", 6, 5), ("deepdecoder", 7, 6)],
)
def test_a_depth_too_deep_for_the_image_names_the_deepest_that_works(
    tmp_path, ok_png, capsys, net, depth, deepest
):
    argv = ["denoise", ok_png, "-o", tmp_path / "o.png", "--net", net, "--depth", depth, *FAST]
    code, _, stderr = run(argv, capsys)
    assert_one_line_usage_error(code, stderr, "64×64", f"--depth {deepest}")
    assert_nothing_written(tmp_path, ok_png)


def test_the_deepest_depth_reported_runs(tmp_path, ok_png, capsys):
    code, _, stderr = run(
        ["denoise", ok_png, "-o", tmp_path / "o.png", "--depth", 5, *FAST], capsys
    )
    assert code == cli.EXIT_OK, stderr


def test_deepest_depth_accounts_for_padding_and_the_bottom_scale():
    assert deepest_depth(64, 64) == 6 and deepest_depth(64, 64, bottom=2) == 5
    assert deepest_depth(31, 37, bottom=2) == 4  # 31 pads to 32: 2 pixels at the bottom
    assert deepest_depth(1, 32) == 0


# --- item 9: numeric options are checked at parse time ----------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--lr", "inf", "positive number"),
        ("--lr", "nan", "positive number"),
        ("--lr", "0", "positive number"),
        ("--lr", "-1e-3", "positive number"),
        ("--seed", "99999999999999999999999", "integer from 0"),
        ("--seed", "-1", "integer from 0"),
        ("--exp-weight", "1", "[0, 1)"),
        ("--exp-weight", "-inf", "[0, 1)"),
        ("--reg-noise-std", "nan", "non-negative"),
        ("--tv", "-0.1", "non-negative"),
        ("--stage-fraction", "1", "(0, 1)"),
        ("--stage-fraction", "1/0", "not a number"),
        ("--width", "99999999999", "up to 1024"),
        ("--depth", "99999999999999", "up to 30"),
        ("--iters", "99999999999999999999", "positive integer"),
        ("--monitor-every", "0", "positive integer"),
        ("--patience", "1e3", "not an integer"),
        ("--tile-overlap", "-4", "integer from 0"),
    ],
)
def test_bad_numeric_options_are_refused_at_parse_time(tmp_path, ok_png, capsys, flag, value, says):
    code, _, stderr = run(["denoise", ok_png, "-o", tmp_path / "o.png", f"{flag}={value}"], capsys)
    assert_one_line_usage_error(code, stderr, f"argument {flag}", says)
    assert "Warning" not in stderr and "Traceback" not in stderr
    assert_nothing_written(tmp_path, ok_png)


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "run", "-o", "r", "--images", "x", "--seeds=-1"],
        ["bench", "run", "-o", "r", "--images", "x", "--workers", "100000"],
        ["train-width", "--labels", "l", "--data", "d", "-o", "m", "--alpha", "inf"],
        ["train-width", "--labels", "l", "--data", "d", "-o", "m", "--seed", "2**64"],
    ],
)
def test_bench_and_tool_numbers_are_checked_too(argv, capsys):
    code, _, stderr = run(argv, capsys)
    assert_one_line_usage_error(code, stderr, "argument --")


def test_the_largest_seed_runs(tmp_path, ok_png, capsys):
    code, _, stderr = run(
        ["denoise", ok_png, "-o", tmp_path / "o.png", "--seed", 2**63 - 1, *FAST], capsys
    )
    assert code == cli.EXIT_OK, stderr


def test_library_warnings_reach_the_user_as_one_plain_line(monkeypatch, capsys):
    import warnings

    def warn(args):
        warnings.warn("something odd", RuntimeWarning, stacklevel=1)
        return cli.EXIT_OK

    monkeypatch.setattr(cli, "list_components", warn)
    code, _, stderr = run(["list", "nets"], capsys)
    assert code == cli.EXIT_OK
    assert stderr == "autodip: warning: something odd\n"


# --- item 7: a sweep file is checked whole, before any run ------------------------------------


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"images": 5}, "images must be a list of strings, got 5"),
        ({"images": "IMAGES"}, "images must be a list of strings"),
        ({"iters": "lots"}, "iters must be an integer from 1"),
        ({"iters": -5}, "iters must be an integer from 1"),
        ({"iters": 2.5}, "iters must be an integer"),
        ({"seeds": [0, -1]}, "seeds must be a list of integers from 0"),
        ({"gray": "yes"}, "gray must be true or false"),
        ({"precision": "fp16"}, "precision must be one of auto, fp32, bf16"),
        ({"patience": []}, "patience must not be empty"),
        ({"iter": 30}, "unknown settings iter (did you mean 'iters'?)"),
        ({"criteria": ["emvv"]}, "unknown criterion 'emvv'"),
        ({"degradations": ["blur:3"]}, "KIND:LEVEL"),
    ],
)
def test_a_bad_sweep_file_is_refused_before_any_run(tmp_path, ok_png, capsys, settings, says):
    sweep = tmp_path / "s.json"
    sweep.write_text(json.dumps({"images": [str(ok_png)], **settings}).replace("IMAGES", "x"))
    out = tmp_path / "r"
    code, _, stderr = run(["bench", "run", "--sweep", sweep, "-o", out], capsys)
    assert_one_line_usage_error(code, stderr, says)
    assert not out.exists()


def test_sweep_problems_are_listed_together_and_flags_complete_the_file(tmp_path, capsys):
    sweep = tmp_path / "s.json"
    sweep.write_text(json.dumps({"iters": "lots", "monitor_every": 0}))
    code, _, stderr = run(
        ["bench", "run", "--sweep", sweep, "--images", tmp_path, "-o", tmp_path / "r"], capsys
    )
    assert_one_line_usage_error(code, stderr, "iters must be", "monitor_every must be")
    assert "images" not in stderr  # given by --images


def test_an_unreadable_sweep_file_is_one_line(tmp_path, capsys):
    sweep = tmp_path / "s.json"
    sweep.write_text("{not json")
    code, _, stderr = run(["bench", "run", "--sweep", sweep, "-o", tmp_path / "r"], capsys)
    assert_one_line_usage_error(code, stderr, "--sweep")


# --- item 8: criterion options are checked against each criterion's declaration ---------------


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (
            ["--criterion-option", "emvv.alpha=0.5"],
            "unknown criterion 'emvv' (did you mean 'emv'?)",
        ),
        (["--criterion-option", "bogus.x=1"], "unknown criterion 'bogus'"),
        (["--criterion-option", "cifs.nonexistent=1"], "its options are lam, quality, sigma"),
        (
            ["--stop", "osc", "--criterion-option", "osc.half_length=abc"],
            "osc.half_length must be an integer, got 'abc'",
        ),
        (["--stop", "emv", "--criterion-option", "emv.alpha=2"], "emv.alpha must be in (0, 1]"),
        (["--criterion-option", "emv.alpha=0.5"], "emv is not in this run"),
        (["--criterion-option", "cifs.lam"], "NAME.KEY=VALUE"),
    ],
)
def test_bad_criterion_options_are_one_line(tmp_path, ok_png, capsys, flags, says):
    argv = ["denoise", ok_png, "-o", tmp_path / "o.png", *FAST, *flags]
    code, _, stderr = run(argv, capsys)
    assert_one_line_usage_error(code, stderr, says)
    assert_nothing_written(tmp_path, ok_png)


def test_good_criterion_options_reach_the_criterion(tmp_path, ok_png, capsys):
    argv = ["denoise", ok_png, "-o", tmp_path / "o.png", "--json", *FAST, "--stop", "emv"]
    code, stdout, stderr = run([*argv, "--criterion-option", "emv.alpha=0.5"], capsys)
    assert code == cli.EXIT_OK, stderr
    assert json.loads(stdout)["criteria"]["emv"]["alpha"] == 0.5
