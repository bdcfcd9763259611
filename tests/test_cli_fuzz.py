"""The command line under random option values (hypothesis, derandomised).

Whatever the values, a restoration command ends with exit code 0 (done), 1 (a run that failed
for a reason given in one line, e.g. divergence), 2 (bad input, or a run refused before it starts
because it would not fit in memory) or 3 (under-fitted with ``--strict``); never with a
traceback or a raw Python warning on stderr; it creates nothing outside the paths it was given
(the output, its ``.interrupted`` marker, the report folder, the checkpoint) and never changes
the input.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from autodip import cli

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: Values that break parsers: non-numbers, signs, overflow, non-finite numbers, fractions.
WILD = st.sampled_from(
    ["0", "-1", "1e400", "-inf", "inf", "nan", "abc", "", "1/0", "3.5", "99999999999999999999999"]
)
SMALL_INT = st.integers(-3, 6).map(str)


def _options() -> st.SearchStrategy[list[str]]:
    """A few options, each with a plausible or a wild value (budgets kept small)."""
    numeric = {
        "--iters": st.one_of(SMALL_INT, WILD),
        "--width": st.one_of(st.sampled_from(["2", "4", "8", "100000000"]), WILD),
        "--depth": st.one_of(SMALL_INT, st.sampled_from(["15", "20"]), WILD),
        "--lr": st.one_of(st.sampled_from(["0.01", "1e-5", "10"]), WILD),
        "--seed": st.one_of(st.sampled_from(["0", "7", str(2**63)]), WILD),
        "--patience": st.one_of(SMALL_INT, WILD),
        "--monitor-every": st.one_of(SMALL_INT, WILD),
        "--reg-noise-std": st.one_of(st.sampled_from(["0", "1/30"]), WILD),
        "--exp-weight": st.one_of(st.sampled_from(["0", "0.99", "1"]), WILD),
        "--tv": st.one_of(st.sampled_from(["0", "0.03"]), WILD),
        "--max-time": st.one_of(st.sampled_from(["0.5", "5"]), WILD),
        "--max-memory": st.sampled_from(["1K", "4G", "lots", "-1G", ""]),
        "--tile": st.one_of(st.sampled_from(["2", "16", "32"]), WILD),
        "--criterion-option": st.sampled_from(
            ["emv.alpha=0.5", "emvv.alpha=1", "osc.half_length=abc", "cifs.lam=-1", "x"]
        ),
        "--stop": st.sampled_from(["cifs", "emv", "none", "discrepancy", "bogus", ""]),
        "--net": st.sampled_from(["hourglass", "dip-skip", "auto", "nope"]),
    }
    flags = st.sampled_from(["--strict", "--no-fit-guard", "--force", "--no-early-stop"])
    pairs = st.lists(
        st.sampled_from(sorted(numeric)).flatmap(
            lambda name: numeric[name].map(lambda value: [name, value])
        ),
        max_size=4,
    )
    return st.tuples(pairs, st.lists(flags, max_size=2, unique=True)).map(
        lambda both: [item for pair in both[0] for item in pair] + both[1]
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.filterwarnings("error")  # a Python warning that reaches the user fails the test
@FUZZ
@given(command=st.sampled_from(["denoise", "inpaint", "sr"]), options=_options())
def test_random_options_end_cleanly_and_touch_only_the_outputs(command, options, capsys) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        rng = np.random.default_rng(0)
        source = folder / "in.png"
        Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)).save(source)
        mask = folder / "mask.png"
        Image.fromarray(((rng.random((12, 12)) > 0.3) * 255).astype(np.uint8)).save(mask)
        before = {source: _digest(source), mask: _digest(mask)}
        output, report = folder / "out.png", folder / "report"
        argv = [command, str(source), "-o", str(output), "--report", str(report)]
        argv += ["--device", "cpu", "--quiet", "--iters", "3", "--width", "4"]
        argv += {"inpaint": ["--mask", str(mask)], "sr": ["--factor", "2"]}.get(command, [])
        existing = _tree(folder)

        code = cli.main(argv + options)
        err = capsys.readouterr().err

        assert code in (0, 1, 2, 3), (argv + options, code, err)
        assert "Traceback" not in err and "Warning:" not in err, err
        for line in err.splitlines():
            assert line.startswith(("autodip:", "  ")), (argv + options, err)
        if code in (1, 2):
            assert "autodip: error:" in err
        assert {p: _digest(p) for p in before} == before  # the inputs are untouched
        allowed = {output, folder / "out.png.interrupted", report}
        for created in _tree(folder) - existing:
            assert (
                created in allowed
                or report in created.parents
                or created.name.startswith("out.png.")  # the checkpoint beside the output
            ), (argv + options, created)
