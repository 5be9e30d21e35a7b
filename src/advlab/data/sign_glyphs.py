"""The 43 classes of the generated traffic-sign set: shapes, colours and pictogram bitmaps.

The classes follow the German Traffic Sign Recognition Benchmark's 43 classes (Stallkamp
et al. 2012) in order and spirit -- speed limits, prohibitions, warnings, mandatory
directions -- drawn as stylised vector shapes with small bitmap pictograms. The bitmaps
are original, coarse drawings; what matters for learning and attacking is that every
class is a distinct combination of shape, colours and pictogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RED = (0.80, 0.08, 0.10)
WHITE = (0.95, 0.95, 0.93)
BLUE = (0.10, 0.30, 0.75)
YELLOW = (0.97, 0.78, 0.08)
BLACK = (0.06, 0.06, 0.06)
GREY = (0.55, 0.55, 0.55)

FONT = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "S": ("111", "100", "111", "001", "111"),
    "T": ("111", "010", "010", "010", "010"),
    "O": ("111", "101", "101", "101", "111"),
    "P": ("111", "101", "111", "100", "100"),
}

ICONS: dict[str, tuple[str, ...]] = {
    "exclaim": ("...#...", "..###..", "..###..", "..###..", "...#...", ".......", "...#..."),
    "curve": (".......", "..####.", ".#.....", ".#.....", "..##...", "....#..", "....#.."),
    "double": ("..##...", ".#.....", "..#....", "...#...", "....#..", ".....#.", "...##.."),
    "bumps": (".......", ".......", ".......", ".##.##.", "#..#..#", "#######", "......."),
    "slip": ("..###..", ".#####.", "..#.#..", ".......", ".#.#.#.", "#.#.#..", "......."),
    "narrow": ("#....#.", "#....#.", "#...#..", "#..#...", "#..#...", "#..#...", "#..#..."),
    "work": ("...##..", "..####.", ".#.#...", "...##..", "..#.#..", ".#..#..", "#######"),
    "person": ("...#...", "..###..", ".#.#.#.", "...#...", "..#.#..", "..#.#..", ".#...#."),
    "children": ("..#..#.", ".###.#.", "#.#.###", "..#..#.", ".#.#.#.", ".#.#.#.", "#..#.#."),
    "bike": (".......", "..##...", "...#...", ".#####.", "#.#.#.#", "#.#.#.#", ".#...#."),
    "snow": ("#..#..#", ".#.#.#.", "..###..", "#######", "..###..", ".#.#.#.", "#..#..#"),
    "deer": ("#...#..", ".#.#...", "..###..", "..#####", "..####.", "..#..#.", "..#..#."),
    "cross": ("...#...", "...#...", "#######", "...#...", "...#...", "...#...", "...#..."),
    "pass": (".......", ".......", "##...##", "##...##", "##...##", "#.#.#.#", "......."),
    "truck": (".......", "####...", "####.#.", "######.", "######.", ".#..#..", "......."),
    "truckpass": (".......", "###....", "###..##", "###..##", "###..##", "#.#.#.#", "......."),
    "up": ("...#...", "..###..", ".#####.", "...#...", "...#...", "...#...", "...#..."),
    "turn": (".......", "....#..", "....##.", "######.", "#...##.", "#...#..", "#......"),
    "upright": ("...#...", "..###..", "...#.#.", "...####", "...#.#.", "...#...", "...#..."),
    "keep": ("#......", ".#.....", "..#....", "...#..#", "....#.#", ".....##", "..#####"),
    "round": ("..###..", ".#...#.", "#.....#", "#.....#", "#.....#", ".#...#.", "..#.##."),
    "bar": (".......", ".......", "#######", "#######", "#######", ".......", "......."),
}


def bitmap(rows: tuple[str, ...]) -> np.ndarray:
    """A boolean bitmap from rows of ``#``/``1`` (set) and ``.``/``0`` (clear)."""
    return np.array([[c in "#1" for c in r] for r in rows], dtype=bool)


def text_bitmap(text: str) -> np.ndarray:
    """Glyphs of :data:`FONT` side by side, one blank column apart."""
    cols: list[np.ndarray] = []
    for i, ch in enumerate(text):
        if i:
            cols.append(np.zeros((5, 1), dtype=bool))
        cols.append(bitmap(FONT[ch]))
    return np.concatenate(cols, axis=1)


@dataclass(frozen=True)
class SignClass:
    """How one class is drawn."""

    name: str
    shape: str  # circle, triangle, yield, octagon, diamond
    border: tuple[float, float, float]
    fill: tuple[float, float, float]
    pict: str = ""  # an ICONS key, "text:<chars>", or "" for none
    ink: tuple[float, float, float] = BLACK
    mirror: bool = False
    strike: bool = False


def _limit(n: str) -> SignClass:
    return SignClass(f"speed limit {n}", "circle", RED, WHITE, f"text:{n}")


def _warn(name: str, icon: str, mirror: bool = False) -> SignClass:
    return SignClass(name, "triangle", RED, WHITE, icon, mirror=mirror)


def _blue(name: str, icon: str, mirror: bool = False) -> SignClass:
    return SignClass(name, "circle", BLUE, BLUE, icon, ink=WHITE, mirror=mirror)


CLASSES: tuple[SignClass, ...] = (
    _limit("20"),
    _limit("30"),
    _limit("50"),
    _limit("60"),
    _limit("70"),
    _limit("80"),
    SignClass("end of speed limit 80", "circle", GREY, WHITE, "text:80", GREY, strike=True),
    _limit("100"),
    _limit("120"),
    SignClass("no passing", "circle", RED, WHITE, "pass"),
    SignClass("no passing for trucks", "circle", RED, WHITE, "truckpass"),
    _warn("right of way at next intersection", "cross"),
    SignClass("priority road", "diamond", WHITE, YELLOW),
    SignClass("yield", "yield", RED, WHITE),
    SignClass("stop", "octagon", WHITE, RED, "text:STOP", WHITE),
    SignClass("no vehicles", "circle", RED, WHITE),
    SignClass("trucks prohibited", "circle", RED, WHITE, "truck"),
    SignClass("no entry", "circle", RED, RED, "bar", WHITE),
    _warn("general caution", "exclaim"),
    _warn("dangerous curve left", "curve"),
    _warn("dangerous curve right", "curve", mirror=True),
    _warn("double curve", "double"),
    _warn("bumpy road", "bumps"),
    _warn("slippery road", "slip"),
    _warn("road narrows on the right", "narrow"),
    _warn("road work", "work"),
    SignClass("traffic signals", "triangle", RED, WHITE, "signals"),
    _warn("pedestrians", "person"),
    _warn("children crossing", "children"),
    _warn("bicycles crossing", "bike"),
    _warn("beware of ice and snow", "snow"),
    _warn("wild animals crossing", "deer"),
    SignClass("end of all limits", "circle", GREY, WHITE, "", GREY, strike=True),
    _blue("turn right ahead", "turn"),
    _blue("turn left ahead", "turn", mirror=True),
    _blue("ahead only", "up"),
    _blue("go straight or right", "upright"),
    _blue("go straight or left", "upright", mirror=True),
    _blue("keep right", "keep"),
    _blue("keep left", "keep", mirror=True),
    _blue("roundabout", "round"),
    SignClass("end of no passing", "circle", GREY, WHITE, "pass", GREY, strike=True),
    SignClass(
        "end of no passing for trucks", "circle", GREY, WHITE, "truckpass", GREY, strike=True
    ),
)
"""The 43 classes, in the order of GTSRB's class ids."""
