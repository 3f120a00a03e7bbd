#!/usr/bin/env bash
# Reproduce the shipped demo model (ros2_openpose/data/demo_synthetic.pt) with one command:
# synthetic train/val sets (seeds 1 and 2), training/configs/demo.yaml on the CPU, COCOeval on the
# validation set, and the checkpoint copied into the package. About 95 min on 2 CPU cores.
# It was trained in two legs, and this script runs the same two: demo.yaml's 10 epochs, then the
# same run resumed to 30 epochs (the resumed cosine spans 30 epochs, so the LR restarts at 0.75x
# of its peak and decays to the end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# shellcheck source=/dev/null
source tools/env.sh
data=${DATA:-data/synthetic}
run=${RUN:-runs/demo}
[ -f "$data/person_keypoints_train.json" ] || python -m training.synthetic --out "$data" --num 4000 --seed 1 --split train
[ -f "$data/person_keypoints_val.json" ] || python -m training.synthetic --out "$data" --num 200 --seed 2 --split val
sets=(--train-images "$data/train" --train-annotations "$data/person_keypoints_train.json"
      --val-images "$data/val" --val-annotations "$data/person_keypoints_val.json" --out "$run")
python -m training.train --config training/configs/demo.yaml "${sets[@]}"
python -m training.train --resume "$run/last.pt" --epochs 30 "${sets[@]}"
python -m training.evaluate --weights "$run/best.pt" --images "$data/val" \
  --annotations "$data/person_keypoints_val.json" --out "$run/eval"
python -m training.ship "$run/best.pt" ros2_openpose/data/demo_synthetic.pt --name demo_synthetic --synthetic-only \
  --trained-on "4,000 synthetic figures drawn by training/synthetic (no real person)"
