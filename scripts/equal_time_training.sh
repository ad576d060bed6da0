#!/usr/bin/env bash
# Equal-budget training comparison of docs/performance.md (issue 6): the paper-faithful VN-PointNet for 4 epochs
# x 45 steps x 32 samples, then fast_vn for 20x as many samples (11 epochs x 328 steps), same data (the shipped
# model's cached SO(3) views of the 21 YCB-Video objects), heads, learning rate and schedule, one thread each.
# Compare the runs' metrics.jsonl (per-epoch wall seconds and validation accuracy) at equal cumulative time;
# session 2 stopped fast_vn after epoch 8, the last to end before VN-PointNet's training time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-runs/equal_time}
common=(--catalog ../shared/data/catalog --source ycbv --protocol so3 --views 500 --val-views 40 --view-points 512
        --num-points 256 --batch-size 32 --lr 2e-3 --threads 1 --seed 0 --quiet --resume
        --model-config '{"orientation": "frame_mlp", "orientation_hidden": [256]}')
.venv/bin/python -m vn_perception.training.train "${common[@]}" --encoder vn_pointnet --epochs 4 \
    --steps-per-epoch 45 --out "$out/vn_pointnet"
.venv/bin/python -m vn_perception.training.train "${common[@]}" --encoder fast_vn --epochs 11 --out "$out/fast_vn"
