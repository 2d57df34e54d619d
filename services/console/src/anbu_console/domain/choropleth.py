"""The district map: dong outlines projected to SVG and coloured by a chosen measure.

Pure functions over plain coordinates; reading the boundary data is an adapter's job.
Only dongs are drawn, never households: the map shows counts per administrative dong.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# (longitude, latitude) in WGS84 degrees
Point = tuple[float, float]
Ring = Sequence[Point]
Polygon = Sequence[Ring]  # the outer ring, then its holes
Outline = Sequence[Polygon]  # a dong may be several pieces

MEASURES: tuple[str, ...] = ("open_alerts", "overdue_steps", "per_thousand", "watched")
DEFAULT_MEASURE = "open_alerts"

# Lower bounds of colour steps 1..4 per measure (step 0 is below the first bound).
STEPS: dict[str, tuple[float, ...]] = {
    "open_alerts": (1, 2, 5, 10),
    "overdue_steps": (1, 2, 5, 10),
    "per_thousand": (0.0001, 5.0, 20.0, 50.0),
    "watched": (1, 10, 50, 200),
}


def measure_or_default(name: str | None) -> str:
    """A known measure name; anything else falls back to open alerts."""
    return name if name in MEASURES else DEFAULT_MEASURE


def step(measure: str, value: float | None) -> int:
    """The colour step 0 (none) to 4 (highest) of a value; unknown values are step 0."""
    if value is None:
        return 0
    bounds = STEPS[measure]
    for index, bound in enumerate(bounds):
        if value < bound:
            return index
    return len(bounds)


def legend(measure: str) -> list[tuple[int, str]]:
    """The colour steps with the range each stands for: (step, "2–5"), …, (4, "≥10")."""
    bounds = STEPS[measure]

    def text(value: float) -> str:
        return "0" if value < 0.001 else f"{value:g}"

    labels = [(0, "0")]
    for index in range(1, len(bounds)):
        labels.append((index, f"{text(bounds[index - 1])}–{text(bounds[index])}"))
    labels.append((len(bounds), f"≥{text(bounds[-1])}"))
    if measure in ("open_alerts", "overdue_steps", "watched"):
        # Counts: the first step is exactly one, "1–2" would suggest two.
        labels[1] = (1, "1")
    return labels


@dataclass(frozen=True)
class Frame:
    """Where lon/lat land in the SVG: an equirectangular projection fitted to a width."""

    west: float
    north: float
    scale: float  # SVG units per degree of latitude
    shrink: float  # cos(latitude): a degree of longitude is shorter than one of latitude
    width: float
    height: float

    def project(self, point: Point) -> tuple[float, float]:
        lon, lat = point
        return ((lon - self.west) * self.shrink * self.scale, (self.north - lat) * self.scale)


def frame_for(outlines: Iterable[Outline], width: float = 800.0, margin: float = 8.0) -> Frame:
    """The frame that fits every outline into ``width`` SVG units, with a margin."""
    lons, lats = [], []
    for outline in outlines:
        for polygon in outline:
            for ring in polygon:
                for lon, lat in ring:
                    lons.append(lon)
                    lats.append(lat)
    if not lons:
        return Frame(0.0, 0.0, 1.0, 1.0, width, width / 2)
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    shrink = math.cos(math.radians((north + south) / 2))
    span = max((east - west) * shrink, 1e-9)
    scale = (width - 2 * margin) / span
    height = (north - south) * scale + 2 * margin
    # The margin, in degrees, on every side.
    pad = margin / scale
    return Frame(west - pad / shrink, north + pad, scale, shrink, width, height)


def svg_path(outline: Outline, frame: Frame) -> str:
    """The SVG path data of an outline (holes cut with the even-odd rule)."""
    parts = []
    for polygon in outline:
        for ring in polygon:
            points = [frame.project(p) for p in ring]
            if len(points) < 3:
                continue
            head, *rest = points
            parts.append(
                f"M{head[0]:.1f} {head[1]:.1f}"
                + "".join(f"L{x:.1f} {y:.1f}" for x, y in rest)
                + "Z"
            )
    return "".join(parts)


def label_at(point: Point, frame: Frame) -> tuple[float, float]:
    """Where a dong's name goes: a point inside it, projected."""
    x, y = frame.project(point)
    return round(x, 1), round(y, 1)
