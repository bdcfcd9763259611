"""The rule that picks the default ensemble size (``benchmarks/ensemble.py``,
``benchmarks/ensemble_default.py``), on made-up rows, and the benchmark's kinds of member."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

from autodip.core.ensemble import plan_members
from autodip.physics.transforms import DIHEDRAL

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ensemble
from ensemble import plan_for, rule_pick
from ensemble_default import analyse, complete_groups


def _row(image: str, sigma: float, k: int, psnr: float, seconds: float, kind: str = "seeds"):
    return {"image": image, "sigma": sigma, "kind": kind, "k": k, "psnr": psnr,
            "noisy": 20.0, "seconds": seconds}  # fmt: skip


def test_the_rule_takes_the_fastest_k_within_a_tenth_of_a_db_of_the_best():
    groups = {1: [_row("a", 25, 1, 29.0, 100)], 2: [_row("a", 25, 2, 29.25, 200)],
              4: [_row("a", 25, 4, 29.32, 400)]}  # fmt: skip
    chosen, rates = rule_pick(groups)
    assert chosen == 2  # K = 1 is 0.32 dB under the best; K = 2 only 0.07 and faster than K = 4
    assert rates[1] == pytest.approx(9.0 / 100)
    groups[4] = [_row("a", 25, 4, 29.5, 400)]
    assert rule_pick(groups)[0] == 4  # now nothing else is within 0.1 dB of K = 4


def test_a_k_that_lacks_an_image_or_a_sigma_is_left_out_of_the_pooled_choice():
    rows = [_row(image, sigma, k, 25.0 + k / 4, 60.0 * k)
            for image in ("a", "b") for sigma in (15, 50) for k in (1, 2)]  # fmt: skip
    rows.append(_row("a", 50, 4, 26.0, 240.0))  # K = 4 at one image of one σ only
    assert sorted(complete_groups(rows, "seeds")) == [1, 2]
    _, choices = analyse(rows)
    pooled = next(c for c in choices if c["scope"] == "every σ" and c["kind"] == "seeds")
    assert pooled["ks"] == [1, 2] and pooled["chosen"] == 2
    per_sigma = {c["scope"]: c["ks"] for c in choices if c["kind"] == "seeds"}
    assert per_sigma["σ = 50"] == [1, 2]  # image b has no K = 4 at σ = 50 either


def test_the_benchmarks_kinds_of_member_are_nested_and_share_member_one():
    assert plan_for("seeds", 8) == plan_members(8, 0, "none")  # the tool's --ensemble 8
    assert plan_for("dihedral", 8) == plan_members(8, 0, "dihedral")
    flips = plan_for("transforms", 8)
    assert {m.seed for m in flips} == {0} and [m.transform for m in flips] == list(DIHEDRAL)
    for kind in ("seeds", "dihedral", "transforms"):
        assert plan_for(kind, 2) == plan_for(kind, 8)[:2]
        assert plan_for(kind, 1) == plan_for("seeds", 1)


def test_shards_split_the_missing_members_between_processes_without_overlap(tmp_path, monkeypatch):
    ran: list[str] = []
    images = [Path(f"{stem}.png") for stem in ("a", "b", "c")]
    monkeypatch.setattr(ensemble, "select_images", lambda *_: images)
    monkeypatch.setattr(ensemble, "baseline", lambda *_: None)
    monkeypatch.setattr(ensemble, "measurement", lambda *_: (None, None))
    monkeypatch.setattr(ensemble, "write", lambda _: None)

    def run_one(noisy, clean, member, out, *rest):
        ran.append(out.stem)
        np.savez(out, estimate=np.zeros((1, 2, 2), np.uint16))
        return {"psnr": 0.0, "seconds": 0.0}

    monkeypatch.setattr(ensemble, "run_one", run_one)
    done = ensemble.member_name(images[1], 25, plan_for("seeds", 2)[1], 64)
    (tmp_path / f"{done}.json").write_text("{}")  # a cached member is not run again
    np.savez(tmp_path / f"{done}.npz", estimate=np.zeros((1, 2, 2), np.uint16))
    shards = []
    for shard in (0, 1):
        ran.clear()
        args = argparse.Namespace(images=3, sigma=25.0, members=2, kinds=["seeds", "dihedral"],
                                  width=64, iters=None, reg_noise_draw="fresh", cache=tmp_path,
                                  shard=(shard, 2), whole=False)  # fmt: skip
        ensemble.run_all(args)
        shards.append(list(ran))
    # 3 images × (member 1, shared by the kinds, + member 2 of each kind) − the cached one
    assert len(shards[0]) + len(shards[1]) == 8
    assert not set(shards[0]) & set(shards[1]) and done not in shards[0] + shards[1]
    with pytest.raises(argparse.ArgumentTypeError):
        ensemble.shard_spec("2/2")
    assert ensemble.shard_spec("1/2") == (1, 2)


def test_whole_images_are_planned_image_by_image_under_their_own_names():
    images = [Path(f"{stem}.png") for stem in ("a", "b")]
    args = argparse.Namespace(members=2, sigma=25.0, width=64, reg_noise_draw="shifted", whole=True)
    plan = ensemble.planned(args, images, ["seeds"])
    order = [f"{image.stem}{member.seed}" for image, member in plan.values()]
    assert order == ["a0", "a1", "b0", "b1"]  # each image's ensemble finishes before the next
    assert all(name.startswith(("a-whole-s25-", "b-whole-s25-")) for name in plan)
    args.whole = False
    crops = ensemble.planned(args, images, ["seeds"])
    order = [f"{image.stem}{member.seed}" for image, member in crops.values()]
    assert order == ["a0", "b0", "a1", "b1"]  # crops: K = 1 for every image first
    assert not set(crops) & set(plan)


def test_a_member_run_leaves_its_estimate_and_no_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    clean = rng.random((3, 16, 16), dtype=np.float32)
    noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape, dtype=np.float32), 0, 1)
    out = tmp_path / "m.npz"
    record = ensemble.run_one(noisy, clean, plan_for("seeds", 1)[0], out, 8, iters=20)
    assert out.exists() and not out.with_suffix(".ckpt").exists()
    assert record["iterations"] == 20 and record["resumed_from_step"] is None
    assert np.isfinite(record["psnr"])


def test_the_report_judges_whole_images_by_their_own_target_and_says_each_members_patience():
    row = {"image": "a", "kind": "seeds", "k": 1, "psnr": 29.0, "cbm3d": {"psnr": 29.8},
           "noisy": 20.0, "seconds": 60.0, "spearman": None}  # fmt: skip
    crops = ensemble.summary_table([row], 1)
    whole = ensemble.summary_table([row], 1, ensemble.WHOLE_TARGET_DB)
    assert "| no |" in crops[-1] and "| yes |" in whole[-1]  # 0.8 dB under: misses 0.5, meets 1.0
    words = ensemble.patiences_in_words([{"patience": 450}, {}, {"patience": 450}])
    assert words == "450 (2), not recorded (1)"
    assert ensemble.patiences_in_words([]) == "none cached"
