"""Networks: strict loading of the original and CMU files, type detection, errors, shapes.

The expected key lists are written here from the issue's text (loops over the listed names and
shapes), not read from the modules under test.
"""
from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ros2_openpose.models import (
    MODEL_TYPES,
    CMUBodyNet,
    LightNet,
    PoseNetwork,
    SeedNet,
    TrainableNetwork,
    WeightsError,
    build_model,
    load_model,
    make_checkpoint,
    network_info,
    resolve_device,
)
from ros2_openpose.models.seed import shrink_image, tent_kernel
from ros2_openpose.skeletons import COCO17, COCO18

VGG_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
             14: (256, 256), 16: (256, 256), 19: (512, 256), 21: (512, 512)}


def conv(shape_out: int, shape_in: int, k: int) -> dict[str, tuple]:
    return {"weight": (shape_out, shape_in, k, k), "bias": (shape_out,)}


def bn(channels: int) -> dict[str, tuple]:
    return {"weight": (channels,), "bias": (channels,), "running_mean": (channels,),
            "running_var": (channels,), "num_batches_tracked": ()}


def seed_spec(paf_out: int = 46, hm_out: int = 18) -> dict[str, tuple]:
    """Key -> shape of the original project's state_dict, from the issue's description."""
    spec: dict[str, tuple] = {}

    def add(prefix: str, params: dict[str, tuple]) -> None:
        spec.update({f"{prefix}.{name}": shape for name, shape in params.items()})

    for index, (out, inp) in VGG_CONVS.items():
        add(f"F.vgg.{index}", conv(out, inp, 3))
    add("F.conv_4_3_and_4_4.0", conv(256, 512, 3))
    add("F.conv_4_3_and_4_4.1", bn(256))
    add("F.conv_4_3_and_4_4.3", conv(125, 256, 3))
    add("F.conv_4_3_and_4_4.4", bn(125))
    with_pafs = 128 + paf_out                                   # 174 for coco17
    stage_inputs = {"PAF_Stages": [128] + [with_pafs] * 3, "Heatmap_Stages": [with_pafs, with_pafs + hm_out]}
    for group, inputs in stage_inputs.items():
        out = paf_out if group == "PAF_Stages" else hm_out
        for t, stage_in in enumerate(inputs, start=1):
            for block in range(5):
                c_in = stage_in if block == 0 else 128
                for name, (i, o) in {"C1": (c_in, 64), "C2": (64, 32), "C3": (32, 32)}.items():
                    add(f"{group}.Stage{t}.{block}.{name}.0", conv(o, i, 3))
                    add(f"{group}.Stage{t}.{block}.{name}.1", bn(o))
            add(f"{group}.Stage{t}.5", conv(128, 128, 1))
            add(f"{group}.Stage{t}.6", bn(128))
            add(f"{group}.Stage{t}.8", conv(out, 128, 1))
    return spec


def cmu_spec() -> dict[str, tuple]:
    """Key -> shape of CMU's body_pose_model.pth, from the issue's description."""
    spec: dict[str, tuple] = {}
    vgg = [("conv1_1", 64, 3), ("conv1_2", 64, 64), ("conv2_1", 128, 64), ("conv2_2", 128, 128),
           ("conv3_1", 256, 128), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256),
           ("conv4_1", 512, 256), ("conv4_2", 512, 512), ("conv4_3_CPM", 256, 512), ("conv4_4_CPM", 128, 256)]
    for name, out, inp in vgg:
        spec.update({f"{name}.{k}": v for k, v in conv(out, inp, 3).items()})
    outs = {"L1": 38, "L2": 19}
    for branch, out in outs.items():
        layers = [(f"conv5_{i}_CPM_{branch}", 128, 128, 3) for i in (1, 2, 3)]
        layers += [(f"conv5_4_CPM_{branch}", 512, 128, 1), (f"conv5_5_CPM_{branch}", out, 512, 1)]
        for t in range(2, 7):
            layers.append((f"Mconv1_stage{t}_{branch}", 128, 185, 7))
            layers += [(f"Mconv{i}_stage{t}_{branch}", 128, 128, 7) for i in (2, 3, 4, 5)]
            layers += [(f"Mconv6_stage{t}_{branch}", 128, 128, 1), (f"Mconv7_stage{t}_{branch}", out, 128, 1)]
        for name, o, i, k in layers:
            spec.update({f"{name}.{key}": v for key, v in conv(o, i, k).items()})
    return spec


def random_state(spec: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    """Small random weights (activations stay finite through 20+ layers), valid BN statistics."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in spec.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.02
    return state


def n_params(spec: dict[str, tuple]) -> int:
    return sum(torch.Size(s).numel() for k, s in spec.items()
               if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))


@pytest.fixture(scope="module")
def seed_state() -> dict[str, torch.Tensor]:
    return random_state(seed_spec())


@pytest.fixture(scope="module")
def cmu_state() -> dict[str, torch.Tensor]:
    return random_state(cmu_spec(), seed=1)


def small_seed(**kw) -> SeedNet:
    return SeedNet(**{"width": 0.25, "paf_stages": 2, "heatmap_stages": 1, "freeze_backbone": False, **kw})


# ---- the spec itself ----------------------------------------------------------------------------

def test_spec_counts():
    assert len(seed_spec()) == 718
    assert n_params(seed_spec()) == pytest.approx(10.7e6, rel=0.01)
    assert len(cmu_spec()) == 184
    assert n_params(cmu_spec()) == pytest.approx(52.3e6, rel=0.001)


# ---- strict loading -----------------------------------------------------------------------------

def test_seed_loads_original_state_dict(seed_state, tmp_path):
    path = tmp_path / "original.pth"
    torch.save(seed_state, path)
    net, info = load_model(path)
    assert isinstance(net, SeedNet) and not net.training
    assert info.source_format == "seed_state_dict" and info.model_type == "seed"
    assert info.skeleton == "coco17" and info.weights == str(path)
    assert info.parameters == n_params(seed_spec())
    loaded = net.state_dict()
    assert set(loaded) == set(seed_state)
    assert all(torch.equal(loaded[k], v) for k, v in seed_state.items())
    with torch.inference_mode():
        pafs, heatmaps = net(torch.randn(1, 3, 184, 184))
    assert pafs.shape == (1, 46, 23, 23) and heatmaps.shape == (1, 18, 23, 23)


def test_seed_state_dict_with_coco18_outputs(seed_state):
    state = random_state(seed_spec(paf_out=38, hm_out=19))
    net, info = load_model(state)
    assert info.skeleton == "coco18" and net.skeleton is COCO18 and info.weights is None


def test_cmu_loads_and_has_no_relu_after_outputs(cmu_state):
    state = dict(cmu_state)
    for branch in ("L1", "L2"):
        state[f"Mconv7_stage6_{branch}.bias"] = torch.full_like(state[f"Mconv7_stage6_{branch}.bias"], -1.0)
    net, info = load_model(state)
    assert isinstance(net, CMUBodyNet) and info.source_format == "cmu_state_dict"
    assert net.skeleton is COCO18 and net.input_format == "bgr_256" and net.model_type == "cmu"
    assert info.parameters == n_params(cmu_spec())
    with torch.inference_mode():
        pafs, heatmaps = net(torch.randn(1, 3, 184, 184))
    assert pafs.shape == (1, 38, 23, 23) and heatmaps.shape == (1, 19, 23, 23)
    # A ReLU after the output convs would clip these to >= 0.
    assert (heatmaps < -0.5).any() and (pafs < -0.5).any()


def test_full_size_shapes_at_368_on_meta():
    """Full nets at 368 without the compute: shapes only, on the meta device."""
    with torch.device("meta"):
        for net, paf, hm, n_stages in [(SeedNet(), 46, 18, (4, 2)), (CMUBodyNet(), 38, 19, (6, 6))]:
            pafs, heatmaps = net.eval().stages(torch.empty(1, 3, 368, 368))
            assert (len(pafs), len(heatmaps)) == n_stages
            assert pafs[-1].shape == (1, paf, 46, 46) and heatmaps[-1].shape == (1, hm, 46, 46)


# ---- errors -------------------------------------------------------------------------------------

def test_missing_key_names_file_architecture_and_key(seed_state, tmp_path):
    state = dict(seed_state)
    del state["PAF_Stages.Stage3.2.C2.1.running_var"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as err:
        load_model(path)
    text = str(err.value)
    assert "broken.pth" in text and "SeedNet" in text and "PAF_Stages.Stage3.2.C2.1.running_var" in text
    assert "missing" in text


def test_wrong_shape_and_unexpected_key(cmu_state):
    state = dict(cmu_state)
    state["Mconv1_stage4_L2.weight"] = torch.zeros(128, 184, 7, 7)
    state["extra_layer.weight"] = torch.zeros(3)
    with pytest.raises(WeightsError) as err:
        load_model(state)
    text = str(err.value)
    assert "CMUBodyNet" in text and "Mconv1_stage4_L2.weight" in text and "[128, 184, 7, 7]" in text
    assert "extra_layer.weight" in text and "unexpected" in text


def test_unrelated_and_corrupt_files(tmp_path):
    unrelated = tmp_path / "resnet.pth"
    torch.save({"layer1.0.conv1.weight": torch.zeros(1), "fc.bias": torch.zeros(1)}, unrelated)
    with pytest.raises(WeightsError, match=r"resnet\.pth.*unrecognised.*SeedNet.*CMUBodyNet.*fc\.bias"):
        load_model(unrelated)
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x00not a torch file at all" * 10)
    with pytest.raises(WeightsError, match=r"corrupt\.pth"):
        load_model(corrupt)
    truncated = tmp_path / "truncated.pt"
    torch.save(make_checkpoint(small_seed()), truncated)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    with pytest.raises(WeightsError, match=r"truncated\.pt"):
        load_model(truncated)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(WeightsError, match=r"list\.pt"):
        load_model(listed)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.pth")


# ---- training checkpoints -----------------------------------------------------------------------

def test_training_checkpoint_round_trip(tmp_path):
    net = small_seed(skeleton="coco18").eval()
    ckpt = make_checkpoint(net, config={"lr": 1e-3, "epochs": 2}, metrics={"ap": 0.1}, epoch=3)
    ckpt["model_kwargs"]["backbone_weights"] = "/nowhere/vgg19.pth"   # training-only: ignored
    path = tmp_path / "ckpt.pt"
    torch.save(ckpt, path)
    loaded, info = load_model(path)
    assert info.source_format == "checkpoint" and info.skeleton == "coco18"
    assert info.model_kwargs == {"skeleton": "coco18", "width": 0.25, "paf_stages": 2, "heatmap_stages": 1}
    x = torch.randn(1, 3, 64, 80)
    with torch.inference_mode():
        for a, b in zip(net(x), loaded(x), strict=True):
            assert torch.equal(a, b)


def test_checkpoint_errors_and_dataparallel_prefix(tmp_path):
    net = small_seed()
    ckpt = make_checkpoint(net)
    del ckpt["state_dict"]["Heatmap_Stages.Stage1.8.bias"]
    with pytest.raises(WeightsError, match=r"SeedNet\(.*width=0.25.*Heatmap_Stages.Stage1.8.bias"):
        load_model(ckpt)
    bad_type = dict(make_checkpoint(net), model_type="hrnet")
    with pytest.raises(WeightsError, match="hrnet"):
        load_model(bad_type)
    prefixed = make_checkpoint(net)
    prefixed["state_dict"] = {f"module.{k}": v for k, v in prefixed["state_dict"].items()}
    assert isinstance(load_model(prefixed)[0], SeedNet)


# ---- architecture -------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [184, 368])
@pytest.mark.parametrize("skeleton", [COCO17, COCO18])
def test_small_seed_shapes(size, skeleton):
    net = small_seed(skeleton=skeleton.name).eval()
    with torch.inference_mode():
        pafs, heatmaps = net.stages(torch.randn(2, 3, size, size + 16))
    assert len(pafs) == 2 and len(heatmaps) == 1
    cells = (size // 8, (size + 16) // 8)
    assert pafs[-1].shape == (2, skeleton.num_pafs, *cells)
    assert heatmaps[-1].shape == (2, skeleton.num_heatmaps, *cells)


def test_attributes_and_build():
    net = build_model("seed", width=0.25, paf_stages=1, heatmap_stages=1)
    assert (net.model_type, net.input_format, net.stride, net.skeleton) == ("seed", "rgb_imagenet", 8, COCO17)
    assert not any(p.requires_grad for p in net.F.vgg.parameters())           # frozen by default
    assert all(p.requires_grad for p in net.F.conv_4_3_and_4_4.parameters())
    assert "shrink_kernel" not in net.state_dict()
    with pytest.raises(ValueError, match="unknown model type"):
        build_model("resnet")


def test_every_network_implements_the_interface():
    small = {"seed": {"width": 0.25, "paf_stages": 1, "heatmap_stages": 1}, "light": {"alpha": 0.25, "channels": 8}}
    for model_type in MODEL_TYPES:
        net = build_model(model_type, **small.get(model_type, {}))
        assert isinstance(net, PoseNetwork) and isinstance(net, TrainableNetwork)
        info = network_info(net)
        assert (info.model_type, info.skeleton, info.stride) == (model_type, net.skeleton.name, 8)
        assert info.parameters == sum(p.numel() for p in net.parameters())
        front = {id(p) for p in net.backbone_parameters()}
        assert 0 < len(front) < len(list(net.parameters()))
    light = LightNet(alpha=0.25, channels=8)
    assert {id(p) for p in light.backbone_parameters()} == {id(p) for p in light.backbone.parameters()}


def test_plain_and_half_networks():
    plain = nn.Conv2d(3, 3, 1)
    info = network_info(plain, "coco18")
    assert (info.model_type, info.skeleton, info.input_format, info.stride) == ("Conv2d", "coco18", "rgb_imagenet", 8)
    assert info.source_format == "network" and info.as_dict()["skeleton"] == "coco18"
    with pytest.raises(ValueError, match="pass skeleton="):
        network_info(plain)

    class Half(nn.Module):
        skeleton, stride = COCO17, 8

    with pytest.raises(ValueError, match="has skeleton, stride but not input_format, model_type"):
        network_info(Half(), "coco17")
    with pytest.raises(TypeError, match="TrainableNetwork"):
        make_checkpoint(plain)


def test_one_device_rule():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu", local_rank=1) == torch.device("cpu")
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)  # a torchrun process's GPU
    assert resolve_device("cuda:0", local_rank=1) == torch.device("cuda", 0)  # an explicit index wins
    assert resolve_device("cuda") == torch.device("cuda")


def test_imagenet_backbone_from_local_file(tmp_path, caplog):
    gen = torch.Generator().manual_seed(3)
    state = {f"features.{i}.weight": torch.randn(o, c, 3, 3, generator=gen) for i, (o, c) in VGG_CONVS.items()}
    state.update({f"features.{i}.bias": torch.randn(o, generator=gen) for i, (o, _) in VGG_CONVS.items()})
    state.update({"features.28.weight": torch.zeros(512, 512, 3, 3)[:1], "classifier.6.bias": torch.zeros(1000)})
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    net = SeedNet(backbone_weights=path)
    assert torch.equal(net.F.vgg[21].weight, state["features.21.weight"])
    with pytest.raises(WeightsError, match="width=1"):
        SeedNet(width=0.5, backbone_weights=path)
    with caplog.at_level(logging.INFO, logger="ros2_openpose"):
        small_seed()
    assert "from scratch" in caplog.text and "backbone_weights" in caplog.text


def test_image_shrink_matches_antialiased_bilinear():
    """The image channels fed to the stages are a PIL-style bilinear shrink (the original's)."""
    x = torch.rand(1, 3, 64, 40)
    ours = shrink_image(x, tent_kernel(8), 8)
    reference = F.interpolate(x, size=(8, 5), mode="bilinear", antialias=True, align_corners=False)
    assert ours.shape == (1, 3, 8, 5)
    assert torch.allclose(ours, reference, atol=1e-5)
    ones = shrink_image(torch.ones(1, 3, 24, 16), tent_kernel(8), 8)
    assert torch.allclose(ones, torch.ones_like(ones))
