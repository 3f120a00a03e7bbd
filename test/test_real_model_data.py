"""Data for the real-people model: the teacher-based preparation, per-channel loss masks and the
PoseNet weight reader, on real annotations from ../shared/data/real-keypoints."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ros2_openpose.config import DecodeConfig
from ros2_openpose.models.light import LightNet, MobileNetV1
from ros2_openpose.skeletons import get_skeleton
from training.data import PoseDataset, channel_masks
from training.posenet_init import PosenetError, posenet_state_dict
from training.prepare import group_key, prepare, split

SET = "mmpose-coco"


def one_person_corpus(real_data: Path) -> tuple[dict, dict, dict]:
    """A corpus shaped like LSP from a real COCO set: per image ONE person keeps its body joints
    (face removed), the others lose their labels; the "teacher" sees everyone with the true points
    (confidence 0.9), i.e. a perfect teacher, so every decision of ``prepare`` is checkable."""
    full = json.loads((real_data / SET / "annotations.json").read_text())
    people = [a for a in full["annotations"] if not a["iscrowd"] and a["num_keypoints"] >= 8]
    keep, teacher, anns = {}, {}, []
    for ann in people:
        kps = np.array(ann["keypoints"], np.float32).reshape(17, 3)
        teacher.setdefault(str(ann["image_id"]), []).append(
            {"score": 0.9, "bbox": ann["bbox"],
             "keypoints": np.concatenate([kps[:, :2], np.where(kps[:, 2:] > 0, 0.9, 0.05)], 1).tolist()})
        if ann["image_id"] in keep:
            continue
        keep[ann["image_id"]] = ann
        body = kps.copy()
        body[:5] = 0
        anns.append({**ann, "keypoints": body.reshape(-1).tolist(), "num_keypoints": int((body[:, 2] > 0).sum())})
    corpus = {"images": [i for i in full["images"] if i["id"] in keep], "annotations": anns,
              "categories": full["categories"]}
    return corpus, teacher, keep


def test_prepare_fills_faces_from_the_teacher_and_ignores_unlabelled_people(real_data: Path) -> None:
    corpus, teacher, kept = one_person_corpus(real_data)
    out, stats = prepare(corpus, teacher, min_oks=0.3, keypoint_cut=0.5)
    people = [a for a in out["annotations"] if not a["iscrowd"]]
    crowds = [a for a in out["annotations"] if a["iscrowd"]]
    assert stats["matched"] == len(people) == len(kept)
    for ann in people:
        truth = np.array(kept[ann["image_id"]]["keypoints"], np.float32).reshape(17, 3)
        got = np.array(ann["keypoints"], np.float32).reshape(17, 3)
        labelled_face = truth[:5, 2] > 0
        # A face point comes back exactly where the (perfect) teacher put it, and only if labelled there.
        np.testing.assert_allclose(got[:5][labelled_face, :2], truth[:5][labelled_face, :2], atol=0.01)
        assert (got[:5][~labelled_face, 2] == 0).all()
        assert sorted(ann.get("pseudo_keypoints", [])) == np.flatnonzero(labelled_face).tolist()
    others = sum(len(v) for v in teacher.values()) - len(kept)
    assert stats["ignore_regions"] + stats["duplicates_of_labelled"] == others > 0
    for crowd in crowds:  # every ignore region covers a real, unlabelled person's box
        x, y, w, _h = crowd["bbox"]
        assert any(x <= t["bbox"][0] + 1 and y <= t["bbox"][1] + 1 and x + w >= t["bbox"][0] + t["bbox"][2] - 1
                   for t in teacher[str(crowd["image_id"])])


def test_prepare_leaves_unconfident_keypoints_unlabelled(real_data: Path) -> None:
    corpus, teacher, _ = one_person_corpus(real_data)
    for people in teacher.values():
        for person in people:
            for kp in person["keypoints"]:
                kp[2] = 0.4  # below the cut
    out, stats = prepare(corpus, teacher, min_oks=0.0, keypoint_cut=0.5)
    assert stats["pseudo_keypoints"] == 0 and stats["pseudo_low_confidence"] > 0
    assert all(v == 0 for a in out["annotations"] for v in a["keypoints"][2:15:3])


def test_prepare_teaches_confident_bystanders_as_pseudo_labelled_people(real_data: Path) -> None:
    corpus, teacher, kept = one_person_corpus(real_data)
    confident = {id(p): int((np.array(p["keypoints"])[:, 2] >= 0.5).sum()) for v in teacher.values() for p in v}
    out, stats = prepare(corpus, teacher, min_oks=0.3, keypoint_cut=0.5, teach_keypoints=13)
    baseline, base_stats = prepare(corpus, teacher, min_oks=0.3, keypoint_cut=0.5)
    taught = [a for a in out["annotations"] if a.get("pseudo_person")]
    assert len(taught) == stats["pseudo_people"] > 0
    # Every unmatched person is either taught or (too few confident points) still an ignore region.
    assert stats["pseudo_people"] + stats["ignore_regions"] == base_stats["ignore_regions"]
    assert stats["ignore_regions"] == sum(1 for a in out["annotations"] if a["iscrowd"]) > 0
    for ann in taught:
        assert ann["iscrowd"] == 0 and ann["image_id"] in kept and ann["num_keypoints"] >= 13
        got = np.array(ann["keypoints"], np.float32).reshape(17, 3)
        # The teacher's true points where it is confident, nothing (masked in training) elsewhere.
        match = [p for p in teacher[str(ann["image_id"])] if np.allclose(p["bbox"], ann["bbox"])]
        assert len(match) == 1 and confident[id(match[0])] == ann["num_keypoints"]
        sure = np.array(match[0]["keypoints"])[:, 2] >= 0.5
        np.testing.assert_allclose(got[sure, :2], np.array(match[0]["keypoints"])[sure, :2], atol=0.01)
        assert (got[sure, 2] == 2).all() and (got[~sure] == 0).all()
    assert len(baseline["annotations"]) == len(out["annotations"])


def test_split_keeps_copies_of_a_photo_together() -> None:
    names = ["feb23235-1-1ff4ecfa-befd.jpg", "0a0e9cac-1-1ff4ecfa-befdnew.jpg", "im00001.jpg"]
    assert group_key(names[0]) == group_key(names[1]) != group_key(names[2])
    dataset = {"images": [{"id": i, "file_name": n} for i, n in enumerate(names * 40)],
               "annotations": [{"id": i, "image_id": i} for i in range(120)]}
    train, val = split(dataset, 0.5)
    val_keys = {group_key(i["file_name"]) for i in val["images"]}
    assert not val_keys & {group_key(i["file_name"]) for i in train["images"]}
    assert {a["image_id"] for a in val["annotations"]} == {i["id"] for i in val["images"]}


def test_channel_masks_hide_only_the_missing_parts_of_a_person() -> None:
    skeleton = get_skeleton("coco17")
    person = np.zeros((1, 17, 3), np.float32)
    person[0, 5:, :2] = np.random.default_rng(0).uniform(40, 80, (12, 2))
    person[0, 5:, 2] = 2                       # body labelled, face (0-4) not
    corners = np.array([[[32, 24], [96, 24], [96, 96], [32, 96]]], np.float32)
    spatial = np.ones((16, 16), np.float32)
    spatial[0, 0] = 0.0                        # a crowd cell stays ignored on every channel
    hm, paf = channel_masks(spatial, person, corners, skeleton, 8)
    inside = np.zeros((16, 16), bool)
    inside[3:12, 4:12] = True                  # cells whose centres 8j+3.5 lie in the region
    for k in range(5):
        assert (hm[k][inside] == 0).all() and (hm[k][~inside][1:] == 1).all()
    assert (hm[5:17] == spatial).all()         # labelled channels: only the spatial mask
    assert (hm[17][inside] == 0).all()         # background is unknown where a part is unknown
    for k, (a, b) in enumerate(skeleton.limbs):
        cx, cy = skeleton.paf_channels[k]
        expect = np.where(inside, 0.0, spatial) if min(a, b) < 5 else spatial
        np.testing.assert_array_equal(paf[cx], expect)
        np.testing.assert_array_equal(paf[cy], expect)


def test_loader_masks_the_face_of_a_person_without_face_labels(real_data: Path, tmp_path: Path) -> None:
    full = json.loads((real_data / SET / "annotations.json").read_text())
    for ann in full["annotations"]:
        ann["keypoints"][:15] = [0] * 15
    path = tmp_path / "no_faces.json"
    path.write_text(json.dumps(full))
    ds = PoseDataset(real_data / SET, path, input_size=256)
    s = ds.sample(ds.load(0), None)
    assert s["heatmaps"][:5].max() == 0                          # no face targets at all
    assert (s["heatmap_mask"][:5] == 0).sum() > 0                # ... and their channels are masked
    masked = s["heatmap_mask"][0] == 0
    assert (s["heatmap_mask"][5:17][:, masked] == s["mask"][masked]).all()  # body channels still learn


def fake_posenet(tmp_path: Path, alpha: float = 0.25) -> tuple[Path, dict[str, np.ndarray]]:
    """A TFJS graph manifest + .bin with PoseNet's node names and random arrays (TF layouts)."""
    rng = np.random.default_rng(0)
    ref = MobileNetV1(alpha).state_dict()
    arrays: dict[str, np.ndarray] = {}
    nodes: list[dict] = [{"name": "image", "op": "Placeholder"}]

    def add(node: str, kernel: np.ndarray, bias: np.ndarray) -> None:
        k, b = f"Const_{len(arrays)}", f"Const_{len(arrays) + 1}"
        arrays[k], arrays[b] = kernel, bias
        nodes.append({"name": node, "op": "_FusedConv2D", "input": ["x", k, b]})

    first = ref["conv0.0.weight"].shape[0]
    add("MobilenetV1/MobilenetV1/Conv2d_0/Relu6", rng.normal(size=(3, 3, 3, first)).astype("f4"),
        rng.normal(size=first).astype("f4"))
    for i in range(13):
        ch = ref[f"blocks.{i}.0.weight"].shape[0]
        out = ref[f"blocks.{i}.2.weight"].shape[0]
        add(f"MobilenetV1/MobilenetV1/Conv2d_{i + 1}_depthwise/BatchNorm/batchnorm/add_1/conv",
            rng.normal(size=(3, 3, ch, 1)).astype("f4"), rng.normal(size=ch).astype("f4"))
        add(f"MobilenetV1/MobilenetV1/Conv2d_{i + 1}_pointwise/Relu6",
            rng.normal(size=(1, 1, ch, out)).astype("f4"), rng.normal(size=out).astype("f4"))
    add("MobilenetV1/heatmap_2/BiasAdd", rng.normal(size=(1, 1, out, 17)).astype("f4"),
        rng.normal(size=17).astype("f4"))
    (tmp_path / "posenet.bin").write_bytes(b"".join(a.astype("<f4").tobytes() for a in arrays.values()))
    manifest = {"modelTopology": {"node": nodes}, "weightsManifest": [{"paths": ["posenet.bin"], "weights": [
        {"name": n, "shape": list(a.shape), "dtype": "float32"} for n, a in arrays.items()]}]}
    (tmp_path / "posenet.json").write_text(json.dumps(manifest))
    return tmp_path / "posenet.json", arrays


def test_posenet_reader_places_every_tfjs_array(tmp_path: Path) -> None:
    manifest, arrays = fake_posenet(tmp_path)
    state, alpha, head = posenet_state_dict(manifest)
    assert alpha == 0.25
    tf_first = arrays["Const_0"]  # (kh, kw, in, out)
    x = np.random.default_rng(1).normal(size=(1, 3, 9, 9)).astype("f4")
    net = MobileNetV1(alpha)
    net.load_state_dict(state)
    ours = net.conv0[0](torch.from_numpy(x)).detach().numpy()
    # The same 3x3 stride-2 conv written out from the TF layout, at output cell (2, 3).
    patch = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))[0, :, 4:7, 6:9]   # (in, kh, kw)
    expect = np.einsum("chw,hwco->o", patch, tf_first) + arrays["Const_1"]
    np.testing.assert_allclose(ours[0, :, 2, 3], expect, rtol=1e-4, atol=1e-4)
    dw = arrays["Const_2"]  # (kh, kw, C, 1) -> (C, 1, kh, kw)
    np.testing.assert_array_equal(state["blocks.0.0.weight"].numpy(), dw.transpose(2, 3, 0, 1))
    assert head["weight"].shape[:2] == (17, state["blocks.12.2.weight"].shape[0])


def test_posenet_reader_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"not": "tfjs"}')
    with pytest.raises(PosenetError, match="not a TFJS graph model"):
        posenet_state_dict(tmp_path / "x.json")
    manifest, _ = fake_posenet(tmp_path)
    (tmp_path / "posenet.bin").write_bytes(b"\0" * 100)
    with pytest.raises(PosenetError, match="end before"):
        posenet_state_dict(manifest)


def test_lightnet_maps_match_the_layout_at_stride_8() -> None:
    net = LightNet("coco17", alpha=0.25, channels=16).eval()
    with torch.inference_mode():
        pafs, heatmaps = net(torch.zeros(2, 3, 64, 96))
    assert pafs.shape == (2, 46, 8, 12) and heatmaps.shape == (2, 18, 8, 12)


def test_warm_start_grows_a_network_without_changing_what_it_computes(tmp_path: Path) -> None:
    from training.network import warm_start
    from training.posenet_init import load_backbone

    torch.manual_seed(0)
    small = LightNet("coco17", alpha=0.25, channels=16).eval()
    grown = LightNet("coco17", alpha=0.25, channels=16, keypoint_prior=True)
    manifest, _ = fake_posenet(tmp_path)
    load_backbone(grown.backbone, manifest, grown.prior)  # PoseNet's head becomes the prior
    names = warm_start(grown, small.state_dict())
    assert names == ["paf_stages.0.0.0.weight", "paf_stages.1.0.0.weight", "heatmap_stages.0.0.0.weight"]
    x = torch.randn(1, 3, 64, 80)
    with torch.inference_mode():
        for a, b in zip(small(x), grown.eval()(x), strict=True):
            torch.testing.assert_close(a, b)
        # ... and the new input is live: the prior's weights reach the output once the stage uses them.
        grown.heatmap_stages[0][0][0].weight[:, -17:] = 1.0
        assert not torch.allclose(small(x)[1], grown(x)[1])
    with pytest.raises(ValueError, match="warm start"):
        warm_start(LightNet("coco17", alpha=0.25, channels=24), small.state_dict())


def test_a_checkpoint_with_the_keypoint_prior_loads_back(tmp_path: Path) -> None:
    from ros2_openpose.models import load_model, make_checkpoint

    torch.manual_seed(0)
    net = LightNet("coco17", alpha=0.25, channels=16, keypoint_prior=True).eval()
    torch.save(make_checkpoint(net), tmp_path / "prior.pt")
    loaded, info = load_model(tmp_path / "prior.pt")
    assert info.model_kwargs["keypoint_prior"] is True
    x = torch.randn(1, 3, 64, 80)
    with torch.inference_mode():
        for a, b in zip(net(x), loaded(x), strict=True):
            torch.testing.assert_close(a, b)


def test_an_unmatched_detection_on_the_labelled_person_is_no_ignore_region(real_data: Path) -> None:
    corpus, teacher, kept = one_person_corpus(real_data)
    image_id, ann = next(iter(kept.items()))
    x, y, w, h = ann["bbox"]
    # The teacher saw the labelled person badly (a shifted, loose box) and missed its joints: no match,
    # yet the box covers the person; as an ignore region it would hide the person from the loss.
    teacher[str(image_id)].append({"score": 0.5, "bbox": [x - 0.3 * w, y - 0.3 * h, 1.6 * w, 1.6 * h],
                                   "keypoints": [[0.0, 0.0, 0.01]] * 17})
    out, stats = prepare(corpus, teacher)
    crowds = [a for a in out["annotations"] if a["iscrowd"] and a["image_id"] == image_id]
    assert all(c["bbox"][2] < 1.5 * w for c in crowds) and stats["duplicates_of_labelled"] >= 1


def test_merge_keeps_every_image_under_one_root() -> None:
    from training.prepare import merge

    a = {"images": [{"id": 7, "file_name": "x.jpg"}], "annotations": [{"id": 1, "image_id": 7}], "categories": []}
    b = {"images": [{"id": 7, "file_name": "y.jpg"}], "annotations": [{"id": 1, "image_id": 7}], "categories": []}
    out = merge([(a, "a/"), (b, "b/")])
    assert [i["file_name"] for i in out["images"]] == ["a/x.jpg", "b/y.jpg"]
    assert len({i["id"] for i in out["images"]}) == 2 and len({a["id"] for a in out["annotations"]}) == 2
    assert [a["image_id"] for a in out["annotations"]] == [i["id"] for i in out["images"]]


def test_ship_writes_a_slim_file_with_its_card_and_input_size(tmp_path: Path) -> None:
    from ros2_openpose.estimator import PoseEstimator
    from ros2_openpose.models import make_checkpoint
    from training.ship import main as ship_main

    net = LightNet("coco17", alpha=0.25, channels=16, keypoint_prior=True)
    torch.save(make_checkpoint(net, config={"eval": {"input_size": 256}}, optimizer={"state": {}}),
               tmp_path / "best.pt")
    assert ship_main([str(tmp_path / "best.pt"), str(tmp_path / "m.pt"), "--name", "m", "--trained-on", "photos",
                      "--input-size", "320"]) == 0
    slim = torch.load(tmp_path / "m.pt", weights_only=True)
    assert "optimizer" not in slim and slim["card"]["trained_on"] == "photos"
    estimator = PoseEstimator(weights=tmp_path / "m.pt", device="cpu")
    assert estimator.input_size == 320 and estimator.model.card["name"] == "m"
    assert estimator.config == DecodeConfig()  # no --decode: the original thresholds


def test_soup_averages_the_weights_of_one_network_and_ships_like_a_checkpoint(tmp_path: Path) -> None:
    from ros2_openpose.models import load_model, make_checkpoint
    from training.ship import main as ship_main
    from training.soup import main as soup_main

    nets = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        nets.append(LightNet("coco17", alpha=0.25, channels=16, keypoint_prior=True))
        torch.save(make_checkpoint(nets[-1], config={"eval": {"input_size": 256}}, optimizer={"state": {}}),
                   tmp_path / f"leg{seed}.pt")
    assert soup_main([str(tmp_path / "soup.pt"), str(tmp_path / "leg1.pt"), str(tmp_path / "leg2.pt")]) == 0
    soup, _ = load_model(tmp_path / "soup.pt")
    a, b, mean = nets[0].state_dict(), nets[1].state_dict(), soup.state_dict()
    floats = [k for k in a if a[k].is_floating_point()]
    assert floats and all(torch.allclose(mean[k], (a[k] + b[k]) / 2) for k in floats)
    assert not torch.equal(a[floats[0]], b[floats[0]])  # the two inputs differed: the mean is not a copy
    assert ship_main([str(tmp_path / "soup.pt"), str(tmp_path / "m.pt"), "--name", "m", "--trained-on", "x"]) == 0
    slim = torch.load(tmp_path / "m.pt", weights_only=True)
    assert slim["soup"] == [str(tmp_path / "leg1.pt"), str(tmp_path / "leg2.pt")] and "optimizer" not in slim
    # Another architecture, or a single input, is refused before anything is written.
    torch.save(make_checkpoint(LightNet("coco17", alpha=0.25, channels=8, keypoint_prior=True)), tmp_path / "other.pt")
    with pytest.raises(SystemExit, match="another network"):
        soup_main([str(tmp_path / "bad.pt"), str(tmp_path / "leg1.pt"), str(tmp_path / "other.pt")])
    with pytest.raises(SystemExit, match="at least two"):
        soup_main([str(tmp_path / "bad.pt"), str(tmp_path / "leg1.pt")])
    assert not (tmp_path / "bad.pt").exists()


def test_ship_records_the_models_own_decode_settings_and_every_entry_point_runs_them(tmp_path: Path) -> None:
    from ros2_openpose.assets import describe_model
    from ros2_openpose.estimator import PoseEstimator
    from ros2_openpose.models import make_checkpoint
    from training.ship import main as ship_main

    net = LightNet("coco17", alpha=0.25, channels=16, keypoint_prior=True)
    torch.save(make_checkpoint(net), tmp_path / "best.pt")
    with pytest.raises(SystemExit):  # refused before anything is written: not a DecodeConfig field
        ship_main([str(tmp_path / "best.pt"), str(tmp_path / "m.pt"), "--name", "m", "--trained-on", "x",
                   "--decode", "heat_threshold=0.05"])
    assert not (tmp_path / "m.pt").exists()
    assert ship_main([str(tmp_path / "best.pt"), str(tmp_path / "m.pt"), "--name", "m", "--trained-on", "x",
                      "--decode", "heatmap_threshold=0.05", "--decode", "min_parts=4"]) == 0
    own = DecodeConfig(heatmap_threshold=0.05, min_parts=4)
    estimator = PoseEstimator(weights=tmp_path / "m.pt", device="cpu", input_size=184)
    assert estimator.config == own and estimator.model.decode_config() == own
    assert "its own decode settings: heatmap_threshold=0.05, min_parts=4" in describe_model(estimator.model)
    # An explicit config wins over the card's (an ONNX export carries the card: test_onnx's metadata test).
    assert PoseEstimator(weights=tmp_path / "m.pt", device="cpu", config=DecodeConfig()).config == DecodeConfig()
    # A card whose settings the package cannot run is a clear error, not a silent fallback.
    slim = torch.load(tmp_path / "m.pt", weights_only=True)
    slim["card"]["decode"] = {"heatmap_threshold": 7.0}
    torch.save(slim, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="card's decode settings"):
        PoseEstimator(weights=tmp_path / "bad.pt", device="cpu")
