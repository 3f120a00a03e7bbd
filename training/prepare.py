"""Training corpora + a teacher's detections -> training-ready COCO sets (one command, reproducible).

    python -m training.prepare --annotations ../shared/data/training/lspet/annotations.json \\
        --teacher ../shared/data/training/lspet/teacher_movenet_multipose.json --out data/prepared/lspet

Corpora such as LSP-extended label one person per image and no face points.  Taught as they are, the
unlabelled people would be learnt as background and every face as "no nose here".  With the teacher's
people (movenet-multipose: ``{image id: [{score, bbox, keypoints 17 x [x, y, confidence]}]}``):

* each labelled person is matched to the teacher person with the highest OKS over the labelled joints
  (at least ``--min-oks``);
* its missing keypoints (the face, on LSP) become pseudo-labels where the matched teacher is confident
  (``--keypoint-cut``) and, when the corpus gives LSP's head (neck and head top in ``keypoints_orig``),
  the point lies on that head; the rest stay unlabelled (v = 0) and the trainer masks those channels
  over the person (``training.data``), so they teach nothing;
* every teacher person that matches nobody becomes an ``iscrowd`` region (its box grown by ``--margin``):
  the trainer's loss mask and COCOeval both ignore what happens there;
* with ``--teach-keypoints N``, an unmatched teacher person with at least N confident keypoints is taught
  instead, as a pseudo-labelled person (``"pseudo_person": true``; its unconfident keypoints stay v = 0 and
  are masked like the face above): the corpora's crowds and bystanders then teach finding many people, not
  only the one labelled athlete.

Writes ``OUT/train.json`` and ``OUT/val.json`` (a held-out split by image, never trained on; augmented
copies of one photo stay together) and ``OUT/stats.json``.  Images are not copied.
``python -m training.prepare merge OUT.json A.json:a/images/ B.json:b/images/`` joins held-out splits
of several corpora into one validation set under a common image root.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ros2_openpose.skeletons import COCO_SIGMAS

#: LSP's order in ``keypoints_orig``: neck and head top are joints 12 and 13.
LSP_NECK, LSP_HEAD_TOP = 12, 13


def oks(labelled: np.ndarray, teacher: np.ndarray, area: float, cut: float) -> float:
    """OKS of a teacher person (17 x [x, y, conf]) against the labelled joints (17 x [x, y, v]);
    teacher joints under ``cut`` count as missed."""
    on = labelled[:, 2] > 0
    if not on.any():
        return 0.0
    d2 = ((labelled[on, :2] - teacher[on, :2]) ** 2).sum(1)
    var = (2 * COCO_SIGMAS[on]) ** 2
    e = np.exp(-d2 / (2 * max(area, 1.0) * var)) * (teacher[on, 2] >= cut)
    return float(e.mean())


def head_check(orig: list[float] | None) -> tuple[np.ndarray, float] | None:
    """(centre, radius) of LSP's head from ``keypoints_orig`` (14 joints), when both points are there."""
    if not orig or len(orig) != 42:
        return None
    joints = np.asarray(orig, np.float32).reshape(14, 3)
    neck, top = joints[LSP_NECK, :2], joints[LSP_HEAD_TOP, :2]
    length = float(np.hypot(*(top - neck)))
    if length < 1.0 or (neck <= 0).all() or (top <= 0).all():
        return None
    return (neck + top) / 2, 0.75 * length


def grow(bbox: list[float], margin: float, width: int, height: int) -> list[float]:
    x, y, w, h = bbox
    x0, y0 = max(0.0, x - margin * w), max(0.0, y - margin * h)
    x1, y1 = min(float(width), x + w * (1 + margin)), min(float(height), y + h * (1 + margin))
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def box_iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def covered(kps: np.ndarray, bbox: list[float]) -> float:
    """Share of the labelled keypoints that lie inside ``bbox`` (x, y, w, h)."""
    on = kps[:, 2] > 0
    x, y, w, h = bbox
    inside = (kps[on, 0] >= x) & (kps[on, 0] <= x + w) & (kps[on, 1] >= y) & (kps[on, 1] <= y + h)
    return float(inside.mean()) if on.any() else 0.0


def keypoint_box(kps: np.ndarray) -> list[float]:
    on = kps[:, 2] > 0
    lo, hi = kps[on, :2].min(0), kps[on, :2].max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def group_key(file_name: str) -> str:
    """Photos and their augmented copies share a key (fashion: ``<hash>-<n>-<uuid>[new].jpg``)."""
    stem = Path(file_name).stem
    stem = re.sub(r"new$", "", stem)
    parts = stem.split("-", 1)
    return parts[1] if len(parts) == 2 and len(parts[0]) == 8 else stem


def in_val(file_name: str, fraction: float) -> bool:
    digest = hashlib.sha256(group_key(file_name).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


def prepare(dataset: dict, teacher: dict[str, list[dict]], min_oks: float = 0.3, keypoint_cut: float = 0.5,
            margin: float = 0.15, same_person_iou: float = 0.6,
            teach_keypoints: int | None = None) -> tuple[dict, dict[str, int]]:
    """The prepared COCO dict and counts of what was done (see the module docstring)."""
    images = {img["id"]: img for img in dataset["images"]}
    anns_by_image: dict[int, list[dict]] = {}
    for ann in dataset["annotations"]:
        anns_by_image.setdefault(ann["image_id"], []).append(ann)
    stats = dict.fromkeys(("images", "people", "matched", "pseudo_keypoints", "pseudo_rejected_off_head",
                           "pseudo_low_confidence", "ignore_regions", "duplicates_of_labelled",
                           "pseudo_people"), 0)
    out_anns: list[dict] = []
    next_id = max((a["id"] for a in dataset["annotations"]), default=0) + 1
    for image_id, img in images.items():
        stats["images"] += 1
        anns = [dict(a) for a in anns_by_image.get(image_id, [])]
        people = [a for a in anns if not a.get("iscrowd", 0) and any(v > 0 for v in a["keypoints"][2::3])]
        found = [t for t in teacher.get(str(image_id), [])]
        tkps = [np.asarray(t["keypoints"], np.float32).reshape(17, 3) for t in found]
        used: set[int] = set()
        for ann in people:
            stats["people"] += 1
            kps = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
            area = float(ann.get("area") or ann["bbox"][2] * ann["bbox"][3])
            scores = [oks(kps, t, area, 0.2) if i not in used else -1.0 for i, t in enumerate(tkps)]
            best = int(np.argmax(scores)) if scores else -1
            if best < 0 or scores[best] < min_oks:
                continue
            used.add(best)
            stats["matched"] += 1
            head = head_check(ann.get("keypoints_orig"))
            filled = []
            for k in np.flatnonzero(kps[:, 2] <= 0):
                x, y, conf = tkps[best][k]
                if conf < keypoint_cut:
                    stats["pseudo_low_confidence"] += 1
                    continue
                if head is not None and k < 5 and np.hypot(x - head[0][0], y - head[0][1]) > head[1]:
                    stats["pseudo_rejected_off_head"] += 1
                    continue
                kps[k] = (x, y, 2)
                filled.append(int(k))
            if filled:
                stats["pseudo_keypoints"] += len(filled)
                ann["keypoints"] = [round(float(v), 2) for v in kps.reshape(-1)]
                ann["num_keypoints"] = int((kps[:, 2] > 0).sum())
                ann["pseudo_keypoints"] = filled
        labelled = [np.asarray(a["keypoints"], np.float32).reshape(17, 3) for a in people]
        labelled_boxes = [keypoint_box(k) for k in labelled]
        for i, t in enumerate(found):
            if i in used:
                continue
            # An unmatched detection lying on a labelled person is that person seen badly, not another:
            # as an ignore region it would hide the labelled person's own parts from the loss.
            if any(box_iou(t["bbox"], box) > same_person_iou or covered(k, t["bbox"]) > 0.5
                   for k, box in zip(labelled, labelled_boxes, strict=True)):
                stats["duplicates_of_labelled"] += 1
                continue
            if teach_keypoints is not None and (tkps[i][:, 2] >= keypoint_cut).sum() >= teach_keypoints:
                out_anns.append(pseudo_person(next_id, image_id, t, tkps[i], keypoint_cut))
                next_id += 1
                stats["pseudo_people"] += 1
                continue
            x, y, w, h = grow(t["bbox"], margin, img["width"], img["height"])
            if w < 1 or h < 1:
                continue
            out_anns.append({"id": next_id, "image_id": image_id, "category_id": 1, "iscrowd": 1,
                             "bbox": [x, y, w, h], "area": round(w * h, 2), "num_keypoints": 0,
                             "keypoints": [0] * 51, "teacher_score": t["score"],
                             "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
            next_id += 1
            stats["ignore_regions"] += 1
        out_anns += anns
    out = {k: v for k, v in dataset.items() if k not in ("annotations",)}
    out["annotations"] = sorted(out_anns, key=lambda a: a["id"])
    return out, stats


def pseudo_person(ann_id: int, image_id: int, found: dict, kps: np.ndarray, keypoint_cut: float) -> dict:
    """A teacher person as a COCO annotation: its confident keypoints labelled (v = 2), the rest v = 0."""
    sure = kps[:, 2] >= keypoint_cut
    labelled = np.where(sure[:, None], np.column_stack([kps[:, :2], np.full(len(kps), 2.0)]), 0.0)
    x, y, w, h = (float(v) for v in found["bbox"])
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": [x, y, w, h],
            "area": round(w * h, 2), "num_keypoints": int(sure.sum()), "pseudo_person": True,
            "keypoints": [round(float(v), 2) for v in labelled.reshape(-1)], "teacher_score": found["score"]}


def split(dataset: dict, fraction: float) -> tuple[dict, dict]:
    """``(train, val)`` by image (photos and their copies together)."""
    val_ids = {img["id"] for img in dataset["images"] if in_val(img["file_name"], fraction)}
    parts = []
    for keep in (lambda i: i not in val_ids, lambda i: i in val_ids):
        part = {k: v for k, v in dataset.items() if k not in ("images", "annotations")}
        part["images"] = [img for img in dataset["images"] if keep(img["id"])]
        part["annotations"] = [a for a in dataset["annotations"] if keep(a["image_id"])]
        parts.append(part)
    return parts[0], parts[1]


def merge(parts: list[tuple[dict, str]]) -> dict:
    """One COCO dict from several, each ``(dataset, folder prefix)``: file names get the prefix (so one
    image root serves them all), image and annotation ids are renumbered to stay unique."""
    out: dict[str, Any] = {"images": [], "annotations": [], "categories": parts[0][0]["categories"]}
    for dataset, prefix in parts:
        offset = len(out["images"])
        ids = {img["id"]: offset + i + 1 for i, img in enumerate(dataset["images"])}
        out["images"] += [{**img, "id": ids[img["id"]], "file_name": prefix + img["file_name"]}
                          for img in dataset["images"]]
        out["annotations"] += [{**a, "image_id": ids[a["image_id"]]} for a in dataset["annotations"]]
    for i, ann in enumerate(out["annotations"], start=1):
        ann["id"] = i
    return out


def main_merge(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m training.prepare merge",
                                description="one COCO json from several: OUT JSON:PREFIX [JSON:PREFIX ...]")
    p.add_argument("out")
    p.add_argument("parts", nargs="+", help="a COCO json and the folder prefix of its images, joined by ':'")
    args = p.parse_args(argv)
    parts = []
    for part in args.parts:
        path, _, prefix = part.partition(":")
        parts.append((json.loads(Path(path).read_text(encoding="utf-8")), prefix))
    merged = merge(parts)
    Path(args.out).write_text(json.dumps(merged), encoding="utf-8")
    print(f"{args.out}: {len(merged['images'])} images, {len(merged['annotations'])} annotations")
    return 0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m training.prepare", description=__doc__.split("\n")[0])
    p.add_argument("--annotations", required=True, help="the corpus's COCO keypoint json")
    p.add_argument("--teacher", required=True, help="teacher detections json ({'images': {id: [people]}})")
    p.add_argument("--out", required=True, help="folder for train.json, val.json, stats.json")
    p.add_argument("--val-fraction", type=float, default=0.03, help="share of photos held out (default 0.03)")
    p.add_argument("--min-oks", type=float, default=0.3, help="teacher-to-label match threshold")
    p.add_argument("--keypoint-cut", type=float, default=0.5, help="teacher confidence for a pseudo-label")
    p.add_argument("--margin", type=float, default=0.15, help="ignore-region growth per side, fraction of box")
    p.add_argument("--teach-keypoints", type=int, help="teach unmatched teacher people with at least this many "
                   "confident keypoints as pseudo-labelled people (default: all become ignore regions)")
    args = p.parse_args(argv)
    dataset = json.loads(Path(args.annotations).read_text(encoding="utf-8"))
    teacher = json.loads(Path(args.teacher).read_text(encoding="utf-8"))["images"]
    prepared, stats = prepare(dataset, teacher, args.min_oks, args.keypoint_cut, args.margin,
                              teach_keypoints=args.teach_keypoints)
    train, val = split(prepared, args.val_fraction)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("val", val)):
        (out / f"{name}.json").write_text(json.dumps(part), encoding="utf-8")
    stats.update(train_images=len(train["images"]), val_images=len(val["images"]),
                 settings={"min_oks": args.min_oks, "keypoint_cut": args.keypoint_cut, "margin": args.margin,
                           "teach_keypoints": args.teach_keypoints,
                           "val_fraction": args.val_fraction, "annotations": args.annotations,
                           "teacher": args.teacher})
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(stats, indent=2))
    return stats


if __name__ == "__main__":
    if sys.argv[1:2] == ["merge"]:
        raise SystemExit(main_merge(sys.argv[2:]))
    main()
