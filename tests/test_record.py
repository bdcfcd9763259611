"""One schema behind every report: ``report.json``, ``--json``, the HTML page and the summary."""

import json

import numpy as np
from PIL import Image

from autodip import cli
from autodip.reporting.record import SCHEMA_VERSION

FAST = ["--iters", "6", "--width", "8", "--monitor-every", "3", "--device", "cpu"]
FAST += ["--ensemble", "1"]  # one run's record (an ensemble's: test_cli_ensemble)


def test_report_json_and_json_output_are_the_same_record(tmp_path, sample_noisy, capsys):
    image = tmp_path / "in.png"
    rgb = (sample_noisy[:, :24, :20] * 255).round().astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(rgb).save(image)
    code = cli.main(
        ["denoise", str(image), "-o", str(tmp_path / "out.png"), "--report", str(tmp_path / "r"),
         "--json", *FAST]
    )  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads((tmp_path / "r" / "report.json").read_text())
    assert code == 0
    assert printed == stored
    assert stored["schema_version"] == SCHEMA_VERSION
    assert stored["input"]["shape_chw"] == [3, 24, 20]
    assert stored["result"]["iterations"] == 6
    assert set(stored) >= {"command", "config", "timings", "result", "criteria", "history"}
    page = (tmp_path / "r" / "report.html").read_text()
    assert "in.png" in page and "6 iterations" in page
