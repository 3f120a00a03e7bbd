"""Training loop: loss goes down, configs, resume reproduces the uninterrupted run, DDP = one process.

Run as a script under torchrun this file is also the DDP gradient worker (see ``grad_worker``).
"""
from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # when torchrun runs this file as a script

from ros2_openpose.models import build_model, load_model, make_checkpoint
from training.config import DEFAULTS, load_config, parse_override, parse_setting
from training.data import PoseDataset
from training.distributed import DistInfo, cleanup, init_distributed
from training.engine import forward_loss, masked_l2
from training.evaluate import main as evaluate_main
from training.network import wrap
from training.train import main, make_loader

REPO = Path(__file__).resolve().parents[1]
SET = "mmpose-coco"  # 4 real COCO images
TINY = ["--set", "model.kwargs.width=0.125", "--set", "model.kwargs.paf_stages=1",
        "--set", "model.kwargs.heatmap_stages=1", "--set", "data.input_size=64",
        "--set", "data.sigma=1.5", "--set", "data.batch_size=2", "--set", "data.workers=0",
        "--set", "train.tensorboard=false", "--set", "train.device=cpu"]


def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("seed", width=0.125, paf_stages=1, heatmap_stages=1, freeze_backbone=False)


def tiny_config(batch_size: int) -> dict:
    return load_config(None, [t for t in TINY if t != "--set"] + [f"data.batch_size={batch_size}"])


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--config", str(REPO / "training/configs/small_cpu.yaml"), "--train-images", str(data),
            "--train-annotations", str(data / "annotations.json"), "--out", str(out), *TINY, *extra]


# ----------------------------------------------------------------------------------- loss

def test_masked_l2_ignores_masked_cells() -> None:
    pred, target = torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    mask = torch.ones(2, 1, 4, 4)
    assert float(masked_l2(pred, target, mask)) == pytest.approx(2 * 3 * 16 / 4)
    mask[:, :, :2] = 0
    assert float(masked_l2(pred, target, mask)) == pytest.approx(2 * 3 * 8 / 4)
    with pytest.raises(ValueError):
        masked_l2(pred, torch.zeros(2, 3, 5, 5), mask)


def test_a_few_steps_lower_the_loss(real_data: Path) -> None:
    ds = PoseDataset(real_data / SET, real_data / SET / "annotations.json", input_size=64, sigma=1.5)
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    net = tiny_net()
    model = wrap(net, DistInfo())
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss, _, (pafs, heatmaps) = forward_loss(model, batch, torch.device("cpu"), net.input_format, False)
        assert len(pafs) == 1 and len(heatmaps) == 1
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


# ----------------------------------------------------------------------------------- config

def test_configs_load_and_overrides_apply(tmp_path: Path) -> None:
    for name in ("seed368", "seed184", "small_cpu"):
        cfg = load_config(REPO / "training/configs" / f"{name}.yaml")
        assert cfg["data"]["input_size"] == {"seed368": 368, "seed184": 184, "small_cpu": 184}[name]
        assert set(cfg) == set(DEFAULTS)
    cfg = load_config(REPO / "training/configs/small_cpu.yaml", ["optim.lr=2e-3", "train.amp=true",
                                                                   "optim.milestones=[3, 6]"])
    assert cfg["optim"]["lr"] == 2e-3 and cfg["train"]["amp"] is True and cfg["optim"]["milestones"] == [3, 6]
    assert cfg["model"]["kwargs"]["width"] == 0.25  # from the file, beside the defaults
    assert parse_override("model.kwargs.skeleton=coco18") == {"model": {"kwargs": {"skeleton": "coco18"}}}
    cmu = tmp_path / "cmu.yaml"
    cmu.write_text("model: {type: cmu, kwargs: {}}\n")  # a file states the constructor's arguments whole
    assert load_config(cmu)["model"]["kwargs"] == {}
    assert load_config(cmu, ["model.kwargs.x=1"])["model"]["kwargs"] == {"x": 1}
    with pytest.raises(ValueError, match=r"optim\.lrr"):
        load_config(None, ["optim.lrr=1"])
    with pytest.raises(ValueError, match=r"augment\.wobble"):
        load_config(None, ["augment.wobble=1"])


def test_set_reads_values_the_same_for_training_and_evaluation() -> None:
    assert parse_setting(" optim.lr =1e-3") == ("optim.lr", 1e-3)  # YAML 1.1 alone would keep "1e-3" a string
    assert parse_setting("min_parts=2") == ("min_parts", 2)
    assert parse_setting("optim.milestones=[3, 6]") == ("optim.milestones", [3, 6])
    for bad in ("optim.lr", "=1"):
        with pytest.raises(ValueError, match="--set expects key=value"):
            parse_setting(bad)
    # evaluate's --set goes through the same parser: a malformed one stops before any weights load.
    with pytest.raises(SystemExit, match="--set expects key=value, got 'min_parts'"):
        evaluate_main(["--weights", "none.pt", "--images", ".", "--annotations", "none.json", "--out", ".",
                       "--set", "min_parts"])


# ----------------------------------------------------------------------------------- checkpoints

def test_resume_reproduces_the_uninterrupted_run(real_data: Path, tmp_path: Path) -> None:
    data = real_data / SET
    # LR warmup across the epoch boundary and a step decay at epoch 1: the scheduler state matters.
    sched = ["--set", "optim.schedule=step", "--set", "optim.milestones=[1]", "--set", "optim.gamma=0.5",
             "--set", "optim.warmup_iters=3"]
    straight = main(train_args(data, tmp_path / "a", "--epochs", "2", *sched))
    main(train_args(data, tmp_path / "b", "--epochs", "1", *sched))
    resumed = main(train_args(data, tmp_path / "b", "--epochs", "2", *sched,
                              "--resume", str(tmp_path / "b" / "last.pt")))
    assert resumed["loss"] == straight["loss"]
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"] == 4
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    # The on-disk format that runs already written must keep resuming with: exactly these entries.
    assert set(b) == {"model_type", "model_kwargs", "skeleton", "state_dict", "config", "metrics", "epoch", "step",
                      "best_ap", "history", "optimizer", "scheduler", "scaler", "rng"}
    net, info = load_model(tmp_path / "b" / "last.pt")  # what the node and the CLI do
    assert info.model_kwargs["width"] == 0.125 and net.skeleton.name == "coco17"
    saved = yaml.safe_load((tmp_path / "b" / "config.yaml").read_text())
    assert saved["optim"]["milestones"] == [1]


def test_backbone_is_frozen_first_then_trained(real_data: Path, tmp_path: Path) -> None:
    data = real_data / SET
    init = tmp_path / "init.pt"
    torch.save(make_checkpoint(tiny_net()), init)  # pretrained weights: the frozen phase applies
    opts = ["--set", f"model.init_weights={init}", "--set", "train.freeze_backbone_epochs=1"]
    main(train_args(data, tmp_path / "f", "--epochs", "1", *opts))
    start = torch.load(init, weights_only=True)["state_dict"]
    one = torch.load(tmp_path / "f" / "last.pt", weights_only=True)["state_dict"]
    main(train_args(data, tmp_path / "f", "--epochs", "2", *opts, "--resume", str(tmp_path / "f" / "last.pt")))
    two = torch.load(tmp_path / "f" / "last.pt", weights_only=True)["state_dict"]
    vgg = [k for k in start if k.startswith("F.vgg.")]
    heads = [k for k in start if k.startswith("PAF_Stages.") and k.endswith("weight")]
    assert vgg and all(torch.equal(start[k], one[k]) for k in vgg)          # epoch 1: frozen
    assert all(not torch.equal(start[k], one[k]) for k in heads)             # the stages learn
    assert any(not torch.equal(one[k], two[k]) for k in vgg)                 # epoch 2: unfrozen


def test_validation_keeps_best_by_ap_and_logs_maps(real_data: Path, tmp_path: Path) -> None:
    data = real_data / SET
    metrics = main(train_args(data, tmp_path / "v", "--epochs", "1", "--val-images", str(data),
                              "--val-annotations", str(data / "annotations.json"),
                              "--set", "eval.max_images=2", "--set", "train.tensorboard=true",
                              "--set", "train.image_every=1", "--set", "train.log_every=1"))
    assert {"AP", "AP50", "AR", "loss"} <= set(metrics)
    best = torch.load(tmp_path / "v" / "best.pt", weights_only=True)
    assert best["metrics"]["AP"] == metrics["AP"] and "optimizer" not in best
    with pytest.raises(SystemExit, match=r"cannot resume from it, it lacks \['optimizer'"):
        main(train_args(data, tmp_path / "v", "--resume", str(tmp_path / "v" / "best.pt")))
    net, _ = load_model(tmp_path / "v" / "best.pt")
    assert net.model_kwargs["paf_stages"] == 1
    if importlib.util.find_spec("tensorboard") is not None:  # optional: training goes on without it
        events = list((tmp_path / "v" / "tensorboard").glob("events.out.tfevents.*"))
        assert events and events[0].stat().st_size > 1000  # scalars and the maps image


# ----------------------------------------------------------------------------------- distributed

def grads_after_one_step(info: DistInfo, data: Path, batch_size: int) -> dict[str, torch.Tensor]:
    """Forward + backward on the first batch, as train_one_epoch does (no optimiser step)."""
    net = tiny_net()
    # BatchNorm in eval mode: with batch statistics each rank would normalise over its own half of
    # the batch (that is what DDP does without SyncBatchNorm, which needs GPUs), so the gradients
    # could not match a single process; running statistics make the two computations the same.
    net.eval()
    model = wrap(net, info)
    ds = PoseDataset(data, data / "annotations.json", input_size=64, sigma=1.5)
    loader = make_loader(ds, tiny_config(batch_size), info)
    loader.sampler.set_epoch(0)
    batch = next(iter(loader))
    loss, _, _ = forward_loss(model, batch, info.device, net.input_format, False)
    loss.backward()
    return {name: p.grad.detach().clone() for name, p in net.named_parameters()}


def grad_worker(data: str, out: str) -> None:
    # Automatic collection off: whether it happens to run before exit is what made the CI abort
    # flaky; without it, only cleanup() can free the DDP wrapper, so the check below is deterministic.
    gc.disable()
    info = init_distributed("cpu")
    assert info.world_size == 2
    grads = grads_after_one_step(info, Path(data), batch_size=2)
    if info.is_main:
        torch.save(grads, out)
    cleanup(info)
    # The DDP wrapper (a reference cycle) must be gone before the interpreter shuts down, or the
    # gloo group it holds is destroyed during finalization and can abort the process.
    leftover = [o for o in gc.get_objects() if isinstance(o, torch.nn.parallel.DistributedDataParallel)]
    assert not leftover, f"{len(leftover)} DistributedDataParallel wrapper(s) outlived cleanup()"


def test_two_gloo_processes_match_one_process(real_data: Path, tmp_path: Path) -> None:
    data = real_data / SET
    out = tmp_path / "ddp_grads.pt"
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           __file__, "--grad-worker", str(data), str(out)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    ddp = torch.load(out, weights_only=True)
    single = grads_after_one_step(DistInfo(), data, batch_size=4)
    assert ddp.keys() == single.keys()
    for name, g in single.items():
        torch.testing.assert_close(ddp[name], g, rtol=1e-4, atol=1e-6 * max(1.0, float(g.abs().max())))


if __name__ == "__main__" and sys.argv[1:2] == ["--grad-worker"]:
    torch.set_num_threads(1)
    grad_worker(sys.argv[2], sys.argv[3])
