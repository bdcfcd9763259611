#!/usr/bin/env bash
# One GPU lease, prepared in advance. Its parts (PARTS, run in this order): `timings`, the speed
# benchmarks alone on the GPU (per step, batched members, and the default ensemble batched against
# one member after another: 90 + 60 + 150 s); `tests`, the device tests on CUDA, beside `full`, the
# whole-image CBSD68 runs (benchmarks/cbsd68_full.py, FULL_INSTANCES instances sharing the GPU:
# images not yet run, and rows today's defaults supersede); then `sweeps`, the sweep files'
# missing runs. A lease is about 15 minutes of device time with at most 10 per command, and each
# part has its own timeout inside the 600 s a command may take; each part's results are packed
# as soon as it ends, so a command killed late still returns them. By default (`tests full`,
# ≈ 500 s) the lease reruns the 12 whole images the 7500-step cap supersedes; a second call
# `PARTS=sweeps SWEEP_SECONDS=500` then runs dev256-dipskip.json's missing dip-skip runs (32 of
# dev256.json's 36 after pass 1; as many as fit), and
# `PARTS=timings` re-measures the speed (e.g. `batched_ensemble.py` on more images). The first
# lease (2026-12-04) ran all parts; the second ran `full-cap.json` (SWEEP_FILES) and the batched
# ensemble. The machine has none of the `bm3d` baseline's packages: `prepare` downloads their
# wheels into .whl/ (python 3.12, the machine's) and `run` installs them there.
#
# Here, before the lease (copies CBSD68 and the sweep's images into .gpu-data/, which git ignores;
# the tool sends at most 64 MiB, so move benchmarks/results/ensemble-runs/ aside for the call):
#   bash benchmarks/gpu_session.sh prepare
# There (the device tool's `run`, carry [".gpu-data", ".whl"], timeout_s 600):
#   bash benchmarks/gpu_session.sh run
# Back here (unpacks the runs into the sweep caches and the whole-image rows into
# benchmarks/results/cbsd68-full/, keeps the logs and reports in benchmarks/results/gpu/):
#   bash benchmarks/gpu_session.sh collect FILES_AT
# then `make reports-256`, `python benchmarks/cbsd68_full.py --analyse-only`, `python
# benchmarks/budget_cap.py` and commit. The runs' placement says cuda; their keys are the CPU
# runs' (a job's key leaves out where it ran), so the PSNR analyses use them as they are; their
# seconds are GPU seconds (choose256.py gives them the clean CPU costs of their network and
# criteria, so they join the CPU runs in dev256: collect hard-links dev256-dipskip's runs there).
set -uo pipefail
# the sweeps' files, in order (e.g. SWEEP_FILES=benchmarks/sweeps/full-cap.json SWEEP_SECONDS=500
# PARTS=sweeps for a second call: its 9000-step whole-image runs need minutes each on a shared GPU,
# and a run killed at the timeout is lost)
read -r -a SWEEPS <<< "${SWEEP_FILES:-benchmarks/sweeps/dev256-dipskip.json}"
DATA=.gpu-data
WHEELS=.whl
DEVICE=${DEVICE:-cuda}          # DEVICE=cpu SWEEP_SECONDS=20 FULL_SECONDS=30 tries it on a CPU
SWEEP_SECONDS=${SWEEP_SECONDS:-60}
SWEEP_WORKERS=${SWEEP_WORKERS:-4}  # runs sharing the GPU at once (a run killed at the timeout is lost)
FULL_SECONDS=${FULL_SECONDS:-480}
FULL_INSTANCES=${FULL_INSTANCES:-12}
FULL_THREADS=${FULL_THREADS:-1}
PARTS=${PARTS:-tests full}  # any of: timings tests full sweeps
has() { [[ " $PARTS " == *" $1 "* ]]; }

case "${1:-}" in
prepare)
    set -e
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qx "/$DATA/" "$exclude" 2>/dev/null || echo "/$DATA/" >> "$exclude"
    for sweep in "${SWEEPS[@]}"; do
        python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["images"]))' \
            "$sweep" | while read -r image; do
            mkdir -p "$DATA/$(dirname "${image#../}")"
            cp -p "$image" "$DATA/${image#../}"
        done
    done
    mkdir -p "$DATA/shared/data/cbsd68"
    cp -p ../shared/data/cbsd68/*.png "$DATA/shared/data/cbsd68/"
    grep -qx "/$WHEELS/" "$exclude" 2>/dev/null || echo "/$WHEELS/" >> "$exclude"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$WHEELS" \
        bm3d==4.0.3 bm4d==4.2.5 PyWavelets==1.10.0
    du -sh "$DATA" "$WHEELS"
    # what the device tool will send: the files git knows of (committed sweep checkpoints and
    # the ensemble members included) and the carried folders; it refuses more than 64 MiB
    sizes=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } |
        xargs -0 du -b 2>/dev/null)
    carried=$(du -cb "$DATA" "$WHEELS" | awk '/\ttotal$/ {print $1}')
    sent=$(awk '{s += $1} END {print s}' <<< "$sizes")
    echo "the device call sends $(((sent + carried) / 1048576)) MiB (at most 64): the largest folders:"
    awk '{n = split($2, p, "/"); d = p[1]; for (i = 2; i < n && i <= 3; i++) d = d "/" p[i]; s[d] += $1}
         END {for (d in s) printf "%8.1f MiB  %s\n", s[d] / 1048576, d}' <<< "$sizes" | sort -rn | head -5
    ;;
run)
    # The tool returns at most 8 files: logs and reports go to $work, packed into one archive after
    # each part (so a command killed late still returns what the parts before it wrote).
    out=${OUT:-/tmp/gpu-out}
    work=/tmp/gpu-work
    mkdir -p "$out" "$work"
    pack() { tar -C "$work" -czf "$out/reports.tgz" .; }
    py=${PYTHON:-python3}
    export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
    # the sweeps name their images ../shared/data/...: put the carried copies there
    [ -d ../shared/data ] || { mkdir -p ../shared && cp -r "$DATA/shared/data" ../shared/; }
    if [ -d "$WHEELS" ] && ! "$py" -c 'import bm3d' 2> /dev/null; then
        "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site "$WHEELS"/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site
    fi
    { nvidia-smi
      "$py" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name())'
      "$py" -c 'import bm3d, pywt; print("bm3d", bm3d.__file__)'
    } > "$work/device.txt" 2>&1
    pack
    # timings first, alone on the GPU (their ratios are within one run, not across shared GPUs)
    if has timings; then
    timeout 90 "$py" benchmarks/speed.py --device "$DEVICE" --blocks 5 --steps 20 --seeds 0 \
        --cache /tmp/speed-cache --out "$work/speed-$DEVICE.md" > "$work/speed.log" 2>&1
    echo "speed: exit $?" >> "$work/speed.log"
    timeout 60 "$py" benchmarks/batched_members.py --ks 1,2,4,8 --steps 15 --repeats 2 \
        --conditions "alone on the GPU (benchmarks/gpu_session.sh)" \
        --out "$work/batched_members-$DEVICE.md" > "$work/batched.log" 2>&1
    echo "batched members: exit $?" >> "$work/batched.log"
    pack
    timeout 150 "$py" benchmarks/batched_ensemble.py --images 1 --sigma 50 --device "$DEVICE" \
        --conditions "alone on the GPU (benchmarks/gpu_session.sh)" \
        --out "$work/batched_ensemble-$DEVICE.md" > "$work/batched_ensemble.log" 2>&1
    echo "batched ensemble: exit $?" >> "$work/batched_ensemble.log"
    pack
    fi
    # the tests parametrised by device (the rest of the suite is CPU-only and runs in CI), beside
    # the whole-image runs: FULL_INSTANCES instances share the images by lock files, two CPU
    # threads each (CIFS's JPEG sizes and CBM3D run on the host)
    tests=
    if has tests; then
        timeout 150 "$py" -m pytest -q -p no:cacheprovider tests/test_devices.py \
            > "$work/tests.txt" 2>&1 &
        tests=$!
    fi
    if has full; then
    full=/tmp/cbsd68-full
    rm -rf "$full" && cp -r benchmarks/results/cbsd68-full "$full"
    gpu=$("$py" -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")')
    for i in $(seq "$FULL_INSTANCES"); do
        timeout "$FULL_SECONDS" "$py" benchmarks/cbsd68_full.py --threads "$FULL_THREADS" \
            --cache "$full" --out "/tmp/cbsd68_full-$i.md" \
            --conditions "$gpu ($DEVICE), $FULL_INSTANCES instances sharing it, $FULL_THREADS CPU thread(s) each (benchmarks/gpu_session.sh)" \
            > "/tmp/cbsd68-$i.log" 2>&1 &
    done
    fi
    if [ -n "$tests" ]; then
        wait "$tests"
        echo "tests: exit $?" >> "$work/tests.txt"
    fi
    wait
    if has full; then
        cat /tmp/cbsd68-*.log > "$work/cbsd68-full.log"
        tar -C /tmp -czf "$out/cbsd68-full.tgz" --exclude '*.lock' cbsd68-full
    fi
    pack
    has sweeps || SWEEPS=()
    for sweep in "${SWEEPS[@]}"; do  # killed at its timeout, a sweep keeps its finished runs
        name=$(basename "$sweep" .json)
        mkdir -p /tmp/sweeps  # start from the committed cache: only missing jobs run
        rm -rf "/tmp/sweeps/$name"
        [ -d "benchmarks/results/$name" ] && cp -r "benchmarks/results/$name" "/tmp/sweeps/$name"
        # sweeps whose jobs are dev256.json's (dev256-dipskip.json) start from its runs
        "$py" benchmarks/share_runs.py benchmarks/results/dev256/runs "/tmp/sweeps/$name/runs" \
            "$sweep" >> "$work/sweep.log" 2>&1
        # no run checkpoints: the files of a killed run would not come back (and are large)
        timeout "$SWEEP_SECONDS" "$py" -m autodip bench run --sweep "$sweep" --device "$DEVICE" \
            --workers "$SWEEP_WORKERS" --checkpoint-every 0 -o "/tmp/sweeps/$name" >> "$work/sweep.log" 2>&1
        echo "$name: exit $?" >> "$work/sweep.log"
        tar -C /tmp/sweeps -czf "$out/runs-$name.tgz" "$name/runs" 2>> "$work/sweep.log"
        pack
    done
    ;;
collect)
    set -e
    from=${2:?collect FILES_AT: the folder the device tool put the files in}
    mkdir -p benchmarks/results/gpu
    # a second lease's reports replace the first's of the same name: keep those first
    if [ -f "$from/reports.tgz" ]; then tar -C benchmarks/results/gpu -xzf "$from/reports.tgz"; fi
    if [ -f "$from/cbsd68-full.tgz" ]; then
        scratch=$(mktemp -d)
        tar -C "$scratch" -xzf "$from/cbsd68-full.tgz"
        # a new row, or one that replaces a row today's defaults supersede (cbsd68_full.py)
        "${PYTHON:-.venv/bin/python}" - "$scratch/cbsd68-full" benchmarks/results/cbsd68-full <<'PY'
import json, shutil, sys
from pathlib import Path
sys.path[:0] = ["benchmarks", "src"]
from cbsd68_full import superseded
came, here = Path(sys.argv[1]), Path(sys.argv[2])
added = 0
for row in sorted(came.glob("*.json")):
    target = here / row.name
    old = json.loads(target.read_text()) if target.exists() else None
    if old is None or (superseded(old) and not superseded(json.loads(row.read_text()))):
        shutil.copy(row, target)
        added += 1
print(f"cbsd68-full: {added} new or superseding rows")
PY
        rm -rf "$scratch"
    fi
    for packed in "$from"/runs-*.tgz; do
        [ -e "$packed" ] || continue  # no sweep ran (PARTS)
        scratch=$(mktemp -d)
        tar -C "$scratch" -xzf "$packed"
        name=$(basename "$packed" .tgz)
        name=${name#runs-}
        mkdir -p "benchmarks/results/$name/runs"
        added=0
        for run in "$scratch/$name/runs"/*.json.gz; do
            target="benchmarks/results/$name/runs/$(basename "$run")"
            if [ ! -e "$target" ]; then cp "$run" "$target"; added=$((added + 1)); fi
        done
        echo "$name: $added new runs"
        if [ "$name" != dev256 ]; then  # runs of dev256.json's jobs join its cache
            "${PYTHON:-.venv/bin/python}" benchmarks/share_runs.py \
                "benchmarks/results/$name/runs" benchmarks/results/dev256/runs \
                benchmarks/sweeps/dev256.json
        fi
        rm -rf "$scratch"
    done
    ;;
*)
    echo "usage: bash benchmarks/gpu_session.sh prepare | run | collect FILES_AT" >&2
    exit 2
    ;;
esac
