#!/usr/bin/env bash
# Reproduce vn_perception/assets/default_model.pt (docs/model_card.md, "Training"): four training runs, each
# starting from the previous one, then the evaluation report and the packaging. CPU, one thread per run,
# about 1 h 15 min on a 2-core machine plus ~15 min of view rendering (cached under .cache/vn_perception).
# Needs the shared data at ../shared/data. Each step resumes with --resume if interrupted (re-run the script).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
train=".venv/bin/vn-perception train"
common=(--catalog ../shared/data/catalog --source ycbv --encoder fast_vn --protocol so3 --views 500 --val-views 40
        --view-points 512 --num-points 256 --batch-size 32 --threads 1)
multi='{"orientation": "multi_frame", "orientation_hidden": [256], "orientation_hypotheses": 8}'
refined='{"orientation": "multi_frame", "orientation_hidden": [256], "orientation_hypotheses": 8, "refine": "canonical"}'
resume() { [ -f "$1/last.pt" ] && echo --resume || true; }

# 1. encoder + classifier + multi_frame orientation head, 20 epochs
$train "${common[@]}" --model-config "$multi" --epochs 20 --lr 2e-3 --seed 0 --out runs/ship_multi_fast_vn_so3 \
    $(resume runs/ship_multi_fast_vn_so3)
# 2. the canonical refiner alone on top of it (everything else frozen), 16 epochs
$train "${common[@]}" --model-config "$refined" --epochs 16 --lr 3e-3 --seed 0 \
    --init-from runs/ship_multi_fast_vn_so3/model.pt --train-only refiner --out runs/refine_frozen16 \
    $(resume runs/refine_frozen16)
# 3. all parts, 8 epochs at a low learning rate
$train "${common[@]}" --model-config "$refined" --epochs 8 --lr 5e-4 --seed 1 \
    --init-from runs/refine_frozen16/model.pt --out runs/finetune_all8 $(resume runs/finetune_all8)
# 4. all parts on views with mask bleed onto a touching neighbour and without the meshes' crack hits
$train "${common[@]}" --model-config "$refined" --epochs 8 --lr 5e-4 --seed 2 \
    --view-options '{"bleed": {}, "drop_crack_hits": true}' \
    --init-from runs/finetune_all8/model.pt --out runs/ship3_bleed $(resume runs/ship3_bleed)

.venv/bin/vn-perception evaluate runs/ship3_bleed/model.pt --names "default model" --mesh-refine --views 30 \
    --confusion-plots 1 --out docs/reports/default_model
.venv/bin/python scripts/package_default_model.py runs/ship3_bleed/model.pt docs/reports/default_model \
    --name "default model" --lineage runs/ship_multi_fast_vn_so3/model.pt runs/refine_frozen16/model.pt \
    runs/finetune_all8/model.pt
