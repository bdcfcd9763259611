#!/usr/bin/env bash
# The 256² development sweeps, one after the other, in the order their answers are needed
# (docs/benchmarks.md, "Sweep files"); each resumes from its committed cache, so rerunning this
# script after an interruption only computes what is missing.
#
#   1. dev256.json, widths 32 and 64 only: the default network's 36 trajectories (guard.md);
#   2. dev-full.json: the default network on 4 full-size CBSD68 images at σ = 25 (the issue's
#      full-size target; no crop, so nothing is shared with dev256): the defaults' evidence at
#      the size users have comes before the criteria comparisons (moved up on 2026-12-02);
#   3. dev256-own.json: holdout and OSC at 256² (24 runs of their own; the plain and BM3D runs
#      are dev256's, hard-linked in first);
#   4. dev256-sure.json: the `sure` criterion (Stein's risk estimate, its divergence from an
#      OSC-style pseudo-noise of std 3/255) on the same 12 crop/σ pairs (12 runs of its own; the
#      plain runs and BM3D are dev256's, hard-linked in first): whether it should stop the
#      default runs (added 2026-12-04);
#   5. cbsd68_full.py: the defaults themselves (not a recorded trajectory) on the 34 whole
#      odd-position CBSD68 images at σ = 25, two instances sharing the images (issue 14 item 7;
#      about 30 minutes an image per instance on a 2-core AMX CPU);
#   6. dev256-pass1.json: a first pass of width 128 and dip-skip (σ = 25, 4 images) before either
#      gets all 36 (docs/benchmarks.md says why);
#   7. dip-skip on dev256.json (it gained +0.31 dB over one width-64 run in pass 1: pass1.md);
#      pass 1's dip-skip runs are hard-linked into dev256's cache first (the same job keys). One
#      dip-skip run costs what the default's 4-run ensemble costs, and at σ = 25 it ends under it
#      (ensemble_vs_net.md, also at σ = 15 on 2 crops), so σ = 15 and 50 on the 4 crops whose
#      ensembles are cached (dev256-dipskip-pass2.json, same keys) come before the rest of
#      dev256.json's dip-skip runs, and after step 8;
#   8. first of the two: the default itself, the 4-run ensemble of the width `autodip denoise`
#      picks (64, or 32 at σ = 50), on all 12 crops at each σ (ensemble.py, two shards; about
#      2.7 CPU-hours beyond the 16 crops × σ already cached): issue 14's target rows for what the
#      tool ships.
#
# Usage, from the repository root (the sweeps' image paths are relative to it):
#   OMP_NUM_THREADS=1 nohup nice -n 5 bash benchmarks/dev256_queue.sh > /tmp/dev256.log 2>&1 &
set -euo pipefail
python=${PYTHON:-.venv/bin/python}
results=${RESULTS:-benchmarks/results}
# A job that fails is not cached, and `bench run` then exits non-zero: say so and go on to the
# next sweep rather than stop the queue (a rerun retries it).
bench() {
    "$python" -m autodip bench run --workers 2 "$@" ||
        echo "dev256_queue: a sweep had failures (exit $?); going on" >&2
}

link_shared() {  # $1: sweep file, $2: its results folder: hard-link the jobs dev256 already ran
    "$python" benchmarks/share_runs.py "$results/dev256/runs" "$2/runs" "$1"
}

# dev256.json narrowed to widths 32 and 64 is another sweep to `bench run`, which will not write
# it into dev256's folder; a folder of its own whose runs/ is dev256's keeps the runs in one cache.
narrowed=${TMPDIR:-/tmp}/dev256-default
mkdir -p "$narrowed"
if [ -e "$narrowed/runs" ] && [ ! -L "$narrowed/runs" ]; then
    echo "dev256_queue: $narrowed/runs is not a link to dev256's cache; remove it" >&2
    exit 2
fi
ln -sfn "$(cd "$results/dev256/runs" && pwd)" "$narrowed/runs"
# dip-skip's narrowings of dev256.json (step 7) are other sweeps: a folder of their own each (a
# folder keeps the settings of its sweep), with dev256's cache as theirs
dipskip=${TMPDIR:-/tmp}/dev256-dipskip
pass2=${TMPDIR:-/tmp}/dev256-pass2
for folder in "$dipskip" "$pass2"; do
    mkdir -p "$folder"
    ln -sfn "$(cd "$results/dev256/runs" && pwd)" "$folder/runs"
done
bench --sweep benchmarks/sweeps/dev256.json --nets hourglass-w32 hourglass-w64 -o "$narrowed"
bench --sweep benchmarks/sweeps/dev-full.json -o "$results/dev-full"
link_shared benchmarks/sweeps/dev256-own.json "$results/dev256-own"
bench --sweep benchmarks/sweeps/dev256-own.json -o "$results/dev256-own"
link_shared benchmarks/sweeps/dev256-sure.json "$results/dev256-sure"
bench --sweep benchmarks/sweeps/dev256-sure.json -o "$results/dev256-sure"
for _ in 1 2; do
    "$python" benchmarks/cbsd68_full.py --threads 1 --cache "$results/cbsd68-full" \
        --out "$results/cbsd68_full.md" \
        --conditions "two instances, one thread each (benchmarks/dev256_queue.sh)" &
done
wait  # an image that failed has no cache file: a rerun of the queue retries it
"$python" benchmarks/cbsd68_full.py --analyse-only --cache "$results/cbsd68-full" \
    --out "$results/cbsd68_full.md"
# the whole images whose default run reached its 4500-step cap, recorded to 9000 steps
# (benchmarks/budget_cap.py replays the cap on them)
bench --sweep benchmarks/sweeps/full-cap.json -o "$results/full-cap"
link_shared benchmarks/sweeps/dev256-pass1.json "$results/dev256-pass1"
bench --sweep benchmarks/sweeps/dev256-pass1.json -o "$results/dev256-pass1"
# pass 1's dip-skip runs join dev256's cache (dev256-dipskip.json's jobs: width 128 was pruned)
"$python" benchmarks/share_runs.py "$results/dev256-pass1/runs" "$results/dev256/runs" \
    benchmarks/sweeps/dev256-dipskip.json
ensemble() {  # $1 width, $2 σ, $3 perturbation draw: two one-thread shards, then the report
    local args=(--kinds seeds --members 4 --images 12 --width "$1" --sigma "$2" --reg-noise-draw "$3")
    local out="$results/ensemble-w$1-s$2-12crops.md"
    "$python" benchmarks/ensemble.py "${args[@]}" --shard 0/2 --out "${TMPDIR:-/tmp}/ens0.md" &
    "$python" benchmarks/ensemble.py "${args[@]}" --shard 1/2 --out "${TMPDIR:-/tmp}/ens1.md" &
    wait
    "$python" benchmarks/ensemble.py "${args[@]}" --analyse-only --out "$out"
}
ensemble 64 25 fresh  # the draw of the 8 crops cached at σ = 25
ensemble 64 15 shifted
ensemble 32 50 shifted
bench --sweep benchmarks/sweeps/dev256-dipskip-pass2.json --noise gaussian:15 -o "$pass2"
bench --sweep benchmarks/sweeps/dev256-dipskip-pass2.json -o "$pass2"
bench --sweep benchmarks/sweeps/dev256.json --nets dip-skip --noise gaussian:25 -o "$dipskip"
bench --sweep benchmarks/sweeps/dev256.json --nets dip-skip -o "$dipskip"
