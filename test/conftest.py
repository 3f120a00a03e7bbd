"""Shared test fixtures: where the real keypoint data lives, and a quiet, single-threaded torch."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI clones main with ../shared beside it; ROS2_OPENPOSE_DATA overrides for other layouts.
DATA = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data"))
REAL = DATA / "real-keypoints"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real COCO-format keypoint sets (``../shared/data/real-keypoints``)."""
    if not REAL.is_dir():
        pytest.fail(f"real keypoint data not found at {REAL}: clone with ../shared beside the repo "
                    "or set ROS2_OPENPOSE_DATA")
    return REAL


@pytest.fixture
def torch_threads():
    """Torch at 2 intra-op threads, so a test can see an entry point set 1; the suite's setting is back
    afterwards.  Yields torch."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield torch
    torch.set_num_threads(before)


def pytest_configure(config: pytest.Config) -> None:
    try:
        import torch
    except ImportError:
        return
    # Two cores on CI: one intra-op thread keeps the suite from oversubscribing them.
    torch.set_num_threads(1)
