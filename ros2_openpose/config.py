"""Decoding thresholds: one config, mirroring the original project's CONFIG.py defaults."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar


@dataclass(frozen=True)
class DecodeConfig:
    """Thresholds and switches of the post-processing (maps -> peaks -> limbs -> people).

    The first three carry the original names and defaults; the rest are what the original lacked.
    Ranges are enforced by :meth:`validated` so the node can refuse a bad live change with a reason.
    """

    paf_threshold: float = 0.1      # a PAF sample counts as support when its dot product exceeds this
    heatmap_threshold: float = 0.1  # a heatmap local maximum below this is not a peak
    match_threshold: float = 0.1    # a limb match whose PAF score is below this is rejected
    min_parts: int = 3              # people with fewer found keypoints are dropped
    min_person_score: float = 0.2   # people whose mean part+limb score is below this are dropped
    use_extra_pafs: bool = True     # use the redundant limbs as evidence that confirms or merges
    paf_min_fraction: float = 0.8   # fraction of line samples above paf_threshold a limb needs
    max_peaks: int = 1024           # cap on peaks kept per keypoint type (all are kept below it; a warning
                                    # says when it binds)
    max_limb_length: float = 0.5    # limbs longer than this fraction of the image height are penalised
    short_limb: float = 1.0         # cells: peaks no PAF match took are paired by proximity below this
    upsample_heatmaps: bool = False  # NMS on bicubically upsampled heatmaps (slow; docs/decoding.md)
    peak_sigma: float = 0.875       # cells: the heatmap peaks' expected width (7 px at stride 8); a frame
                                    # whose peaks are clearly wider is deconvolved (a blur's) or sharpened
                                    # before NMS (wider Gaussians) (0: never; docs/decoding.md)
    near_scale: float = 0.0         # a frame where someone is taller than near_height of it is looked at
    near_height: float = 0.4        # again at this input scale, the maps averaged (0: never; docs/model.md)

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "paf_threshold": (0.0, 1.0),
        "heatmap_threshold": (0.0, 1.0),
        "match_threshold": (0.0, 1.0),
        "min_parts": (1, 100),
        "min_person_score": (0.0, 1.0),
        "paf_min_fraction": (0.0, 1.0),
        "max_peaks": (1, 4096),
        "max_limb_length": (0.01, 10.0),
        "short_limb": (0.0, 4.0),
        "peak_sigma": (0.0, 8.0),
        "near_scale": (0.0, 4.0),
        "near_height": (0.0, 1.0),
    }

    def validated(self) -> DecodeConfig:
        """Return self, or raise ValueError naming the first field outside its range."""
        for name, (lo, hi) in self.RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name}={value} is outside [{lo}, {hi}]")
        return self

    def updated(self, **changes: Any) -> DecodeConfig:
        """A copy with ``changes`` applied and validated (unknown names raise ValueError)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown decode setting(s): {sorted(unknown)}")
        return replace(self, **changes).validated()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
