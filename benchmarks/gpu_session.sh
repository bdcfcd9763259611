#!/usr/bin/env bash
# One GPU lease, prepared in advance: the device tests on CUDA, the speed benchmark, and a slice
# of the 256² development sweep. A lease is about 15 minutes of device time with at most 10 per
# command, so everything runs in one command of at most 100 + 120 + 2 × 130 s plus start-up, well
# inside the 600 s a command may take (each part has its own timeout, and each sweep's runs are
# packed as soon as it ends, so a command killed late still returns them).
#
# Here, before the lease (copies the sweep's images into .gpu-data/, which git ignores):
#   bash benchmarks/gpu_session.sh prepare
# There (the device tool's `run`, carry [".gpu-data"], timeout_s 600):
#   bash benchmarks/gpu_session.sh run
# Back here (unpacks the runs into the sweep caches, keeps the reports in benchmarks/results/gpu/):
#   bash benchmarks/gpu_session.sh collect FILES_AT
# then `make reports-256` and commit. The runs' placement says cuda; their keys are the CPU
# runs' (a job's key leaves out where it ran), so the PSNR analyses use them as they are; their
# seconds are GPU seconds (choose256.py, which rescales CPU times, refuses them in dev256).
set -uo pipefail
SWEEPS=(benchmarks/sweeps/dev256-pass1.json benchmarks/sweeps/dev256-own.json)
DATA=.gpu-data
DEVICE=${DEVICE:-cuda}          # DEVICE=cpu SWEEP_SECONDS=20 tries the plumbing on a CPU
SWEEP_SECONDS=${SWEEP_SECONDS:-130}

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
    du -sh "$DATA"
    ;;
run)
    out=${OUT:-/tmp/gpu-out}
    mkdir -p "$out"
    py=${PYTHON:-python3}
    export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
    # the sweeps name their images ../shared/data/...: put the carried copies there
    [ -d ../shared/data ] || { mkdir -p ../shared && cp -r "$DATA/shared/data" ../shared/; }
    { nvidia-smi
      "$py" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name())'
    } > "$out/device.txt" 2>&1
    # the tests parametrised by device (the rest of the suite is CPU-only and runs in CI)
    timeout 100 "$py" -m pytest -q -p no:cacheprovider tests/test_devices.py > "$out/tests.txt" 2>&1
    echo "tests: exit $?" >> "$out/tests.txt"
    timeout 120 "$py" benchmarks/speed.py --device "$DEVICE" --blocks 5 --steps 20 --seeds 0 \
        --cache /tmp/speed-cache --out "$out/speed-$DEVICE.md" > "$out/speed.log" 2>&1
    echo "speed: exit $?" >> "$out/speed.log"
    for sweep in "${SWEEPS[@]}"; do  # killed at its timeout, a sweep keeps its finished runs
        name=$(basename "$sweep" .json)
        mkdir -p /tmp/sweeps  # start from the committed cache: only missing jobs run
        rm -rf "/tmp/sweeps/$name"
        [ -d "benchmarks/results/$name" ] && cp -r "benchmarks/results/$name" "/tmp/sweeps/$name"
        # no run checkpoints: the files of a killed run would not come back (and are large)
        timeout "$SWEEP_SECONDS" "$py" -m autodip bench run --sweep "$sweep" --device "$DEVICE" \
            --workers 4 --checkpoint-every 0 -o "/tmp/sweeps/$name" >> "$out/sweep.log" 2>&1
        echo "$name: exit $?" >> "$out/sweep.log"
        tar -C /tmp/sweeps -czf "$out/runs-$name.tgz" "$name/runs" 2>> "$out/sweep.log"
    done
    ;;
collect)
    set -e
    from=${2:?collect FILES_AT: the folder the device tool put the files in}
    mkdir -p benchmarks/results/gpu
    for file in device.txt tests.txt sweep.log speed-*.md speed-*.json; do
        if [ -f "$from/$file" ]; then cp "$from/$file" benchmarks/results/gpu/; fi
    done
    for packed in "$from"/runs-*.tgz; do
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
        rm -rf "$scratch"
    done
    ;;
*)
    echo "usage: bash benchmarks/gpu_session.sh prepare | run | collect FILES_AT" >&2
    exit 2
    ;;
esac
