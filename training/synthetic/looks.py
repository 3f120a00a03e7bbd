"""What a person looks like: proportions, clothes and the colour of each body part."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .anatomy import ARM_PARTS, HEAD, LEG_PARTS, NECK_PART, PARTS, SIDE_SHADE, SIDES, TORSO

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Body:
    """What a person looks like: proportions, clothes (BGR colours) and their patterns."""

    limb: float = 1.0      # limb length factor
    breadth: float = 1.0   # shoulder and hip width factor
    girth: float = 1.0     # limb thickness factor
    shirt: Colour = (160.0, 90.0, 40.0)
    pants: Colour = (60.0, 60.0, 60.0)
    skin: Colour = (120.0, 160.0, 210.0)
    hair: Colour = (30.0, 30.0, 40.0)
    shoes: Colour = (30.0, 30.0, 30.0)
    long_sleeves: bool = True
    shorts: bool = False
    shirt_pattern: str = "plain"   # plain, stripes, checks
    pattern_period: float = 0.05   # fraction of height
    checked_pants: bool = False
    bald: bool = False


def _colour_away_from(rng: np.random.Generator, avoid: np.ndarray | None, lo: int = 20, hi: int = 236) -> Colour:
    """A random colour, re-drawn a few times while it is close to ``avoid`` (the background)."""
    for _ in range(6):
        c = rng.integers(lo, hi, 3).astype(float)
        if avoid is None or np.abs(c - avoid).sum() > 120:
            break
    return tuple(float(v) for v in c)


def random_body(rng: np.random.Generator, avoid: np.ndarray | None = None) -> Body:
    """Random proportions and clothes; ``avoid`` (BGR) keeps clothes from matching the background."""
    u = rng.uniform
    t = u(0, 1)  # skin tone from dark brown to pale
    skin = tuple(float(a + (b - a) * t + rng.normal(0, 6)) for a, b in zip((45, 65, 100), (185, 205, 240), strict=True))
    hair = [(25, 25, 30), (30, 50, 90), (80, 140, 190), (170, 170, 175), (20, 40, 140)][int(rng.integers(0, 5))]
    return Body(limb=u(0.93, 1.07), breadth=u(0.88, 1.12), girth=u(0.85, 1.25),
                shirt=_colour_away_from(rng, avoid), pants=_colour_away_from(rng, avoid),
                skin=skin, hair=tuple(float(c) for c in hair), shoes=_colour_away_from(rng, None, 10, 120),
                long_sleeves=bool(rng.random() < 0.6), shorts=bool(rng.random() < 0.25),
                shirt_pattern=("plain", "stripes", "checks")[int(rng.choice(3, p=(0.5, 0.3, 0.2)))],
                pattern_period=u(0.035, 0.08), checked_pants=bool(rng.random() < 0.2),
                bald=bool(rng.random() < 0.1))


def tint(colour: Colour, amount: float) -> np.ndarray:
    """Move a colour towards white (amount > 0) or black (amount < 0)."""
    c = np.asarray(colour, np.float32)
    return c + ((255.0 if amount > 0 else 0.0) - c) * abs(amount)


def palette(body: Body) -> np.ndarray:
    """(PARTS, 3) float32 BGR colour of each part; left parts lighter, right parts darker."""
    pal = np.zeros((PARTS, 3), np.float32)
    pal[TORSO], pal[HEAD], pal[NECK_PART] = body.shirt, body.skin, body.skin
    for side, _, _ in SIDES:
        shade = SIDE_SHADE * side
        upper, fore, hand = ARM_PARTS[side]
        thigh, shin, foot = LEG_PARTS[side]
        pal[upper] = tint(body.shirt, shade)
        pal[fore] = tint(body.shirt if body.long_sleeves else body.skin, shade)
        pal[hand] = tint(body.skin, shade)
        pal[thigh] = tint(body.pants, shade)
        pal[shin] = tint(body.skin if body.shorts else body.pants, shade)
        pal[foot] = tint(body.shoes, shade)
    return pal
