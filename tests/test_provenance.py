"""``autodip.bench.provenance``: where a benchmark result comes from, and its writer."""

from __future__ import annotations

import json
import sys

import pytest

from autodip.bench.provenance import (
    command_line,
    provenance,
    provenance_lines,
    usable_cores,
    with_provenance,
    write_report,
)

RECORD = {
    "command": "python benchmarks/x.py --out r/x.md",
    "date": "2026-12-01 18:06 UTC",
    "cpu": "AMD EPYC",
    "cores": 2,
    "torch_threads": 2,
    "autodip": "0.1.0",
    "python": "3.11.7",
    "torch": "2.13.0+cpu",
    "numpy": "2.4.6",
    "platform": "Linux",
    "machine": "x86_64",
    "cuda": "none",
}


def test_provenance_names_command_machine_versions_and_date(monkeypatch):
    import numpy
    import torch

    monkeypatch.setattr(sys, "argv", ["benchmarks/guard.py", "--out", "a b.md"])
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    record = provenance(precision="bf16")
    assert record["command"] == "python benchmarks/guard.py --out 'a b.md'"  # typed again as is
    assert record["cores"] == usable_cores() >= 1 and record["cpu"]
    assert record["torch"] == torch.__version__ and record["numpy"] == numpy.__version__
    assert record["python"] == sys.version.split()[0] and record["precision"] == "bf16"
    assert record["date"].endswith(" UTC") and len(record["date"]) == len("2026-12-01 18:06 UTC")
    json.dumps(record)  # plain data
    assert provenance("python other.py")["command"] == "python other.py"


def test_command_line_keeps_thread_settings_and_a_relative_script(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    script = tmp_path / "benchmarks" / "memory.py"
    assert command_line([str(script), "--steps", "3"]) == (
        "OMP_NUM_THREADS=1 python benchmarks/memory.py --steps 3"
    )
    elsewhere = "/elsewhere/memory.py"
    assert command_line([elsewhere]) == f"OMP_NUM_THREADS=1 python {elsewhere}"


def test_lines_show_every_standard_fact_and_the_extras():
    lines = provenance_lines({**RECORD, "precision": "bf16"})
    assert lines[0] == "- command: `python benchmarks/x.py --out r/x.md`"
    assert lines[1].startswith("- machine: AMD EPYC, 2 cores (x86_64), 2 torch thread(s);")
    assert all(v in lines[1] for v in ("3.11.7", "2.13.0+cpu", "2.4.6", "0.1.0"))
    assert "GPU" not in lines[1]
    assert lines[2:] == ["- date: 2026-12-01 18:06 UTC", "- precision: bf16"]
    assert "GPU: H200" in provenance_lines({**RECORD, "cuda": "H200"})[1]


def test_lines_go_under_the_title_and_join_its_list():
    merged = with_provenance("# Title\n\n- crop: 128\n\n| a |\n|---|\n", RECORD)
    assert merged.splitlines() == ["# Title", "", *provenance_lines(RECORD), "- crop: 128", "",
                                   "| a |", "|---|"]  # fmt: skip
    apart = with_provenance("# Title\n\nSome text.\n", RECORD).splitlines()
    assert apart == ["# Title", "", *provenance_lines(RECORD), "", "Some text."]
    untitled = with_provenance("| a |\n", RECORD).splitlines()
    assert untitled == [*provenance_lines(RECORD), "", "| a |"]


def test_write_report_writes_markdown_and_json_side_by_side(tmp_path):
    data = {"rows": [1.5, float("nan")]}
    md, js = write_report(tmp_path / "x.md", "# X\n\n| a |\n", data, RECORD)
    assert (md, js) == (tmp_path / "x.md", tmp_path / "x.json")
    assert md.read_text(encoding="utf-8") == with_provenance("# X\n\n| a |\n", RECORD)
    assert json.loads(js.read_text()) == {"provenance": RECORD, "rows": [1.5, None]}
    write_report(tmp_path / "y.md", "# Y\n", [{"psnr": 30.0}], RECORD)  # a list becomes rows
    assert json.loads((tmp_path / "y.json").read_text())["rows"] == [{"psnr": 30.0}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.md", "y.json", "y.md"]
    with pytest.raises(ValueError, match="provenance"):
        write_report(tmp_path / "z.md", "# Z\n", {"provenance": {}}, RECORD)
