"""Small inline SVG charts (no matplotlib, no scripts): line charts with axes and a legend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
]


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    dashed: bool = False
    width: float = 2.0
    color: str | None = None
    markers: bool = True
    step: bool = False  # a step function (e.g. a cumulative fraction), not straight segments


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    y_range: tuple[float, float] | None = (0.0, 1.0)
    x_log: bool = False
    width: int = 520
    height: int = 300


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    out, v = [], start
    while v <= hi + 1e-9 * step:
        out.append(round(v, 10))
        v += step
    return out


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks for a log axis spanning 10**lo .. 10**hi: 1-2-5 per decade when it spans at most
    two decades, else powers of ten; at least the two ends."""
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    mult = (1, 2, 5) if hi - lo <= 2 else (1,)
    out = [m * 10.0**k for k in decades for m in mult]
    out = [t for t in out if lo - 1e-9 <= math.log10(t) <= hi + 1e-9]
    if len(out) < 2:
        out = sorted({*out, 10.0**lo, 10.0**hi})
    return out


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.001:
        return f"{v:.0e}" if abs(v) < 0.001 else f"{v:,.0f}"
    return f"{v:g}"


def render(chart: Chart) -> str:
    """The chart as an ``<svg>`` element string (valid inline HTML)."""
    w, h = chart.width, chart.height
    ml, mr, mt, mb = 56, 150, 28, 44
    pw, ph = w - ml - mr, h - mt - mb
    pts = [p for s in chart.series for p in s.points if all(map(math.isfinite, p))]
    if chart.x_log:
        pts = [p for p in pts if p[0] > 0]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(chart.title)}" class="chart">',
        f"<title>{escape(chart.title)}</title>",
        f'<text x="{ml}" y="16" font-size="13" font-weight="bold">{escape(chart.title)}</text>',
    ]
    if not pts:
        parts.append(f'<text x="{ml}" y="{mt + ph / 2}" font-size="12">no data</text></svg>')
        return "".join(parts)
    xs = [p[0] for p in pts]
    fx = (lambda v: math.log10(v)) if chart.x_log else (lambda v: v)
    x0, x1 = fx(min(xs)), fx(max(xs))
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if chart.y_range is not None:
        y0, y1 = chart.y_range
    else:
        ys = [p[1] for p in pts]
        y0, y1 = min(0.0, min(ys)), max(ys) * 1.05 or 1.0

    def sx(v: float) -> float:
        return ml + (fx(v) - x0) / (x1 - x0) * pw

    def sy(v: float) -> float:
        return mt + ph - (v - y0) / (y1 - y0) * ph

    parts.append(
        f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>'
    )
    for t in _ticks(y0, y1):
        y = sy(t)
        parts.append(
            f'<line x1="{ml}" y1="{y:.1f}" x2="{ml + pw}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{ml - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{_fmt(t)}</text>"
        )
    if chart.x_log:
        xt = _log_ticks(x0, x1)
    else:
        xt = sorted(set(xs)) if len(set(xs)) <= 8 else _ticks(x0, x1)
    for t in xt:
        if chart.x_log and not (x0 - 1e-9 <= math.log10(t) <= x1 + 1e-9):
            continue
        x = sx(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{mt + ph}" x2="{x:.1f}" y2="{mt + ph + 4}" '
            f'stroke="#666"/><text x="{x:.1f}" y="{mt + ph + 16}" font-size="10" '
            f'text-anchor="middle">{_fmt(t)}</text>'
        )
    parts.append(
        f'<text x="{ml + pw / 2}" y="{h - 8}" font-size="11" text-anchor="middle">'
        f"{escape(chart.x_label)}</text>"
    )
    parts.append(
        f'<text x="14" y="{mt + ph / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {mt + ph / 2})">{escape(chart.y_label)}</text>'
    )
    for i, s in enumerate(chart.series):
        color = s.color or PALETTE[i % len(PALETTE)]
        sp = sorted(
            p for p in s.points if all(map(math.isfinite, p)) and (not chart.x_log or p[0] > 0)
        )
        if not sp:
            continue
        if s.step:  # horizontal to the next x, then vertical to its y
            d = f"M{sx(sp[0][0]):.1f},{sy(sp[0][1]):.1f} " + " ".join(
                f"H{sx(x):.1f} V{sy(y):.1f}" for x, y in sp[1:]
            )
        else:
            d = " ".join(
                f"{'M' if j == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for j, (x, y) in enumerate(sp)
            )
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{s.width}"{dash}/>')
        if s.markers:
            for x, y in sp:
                parts.append(
                    f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}">'
                    f"<title>{escape(s.label)}: ({_fmt(x)}, {y:.3f})</title></circle>"
                )
        ly = mt + 10 + i * 16
        parts.append(
            f'<line x1="{ml + pw + 10}" y1="{ly}" x2="{ml + pw + 30}" y2="{ly}" '
            f'stroke="{color}" stroke-width="{s.width}"{dash}/>'
            f'<text x="{ml + pw + 34}" y="{ly + 4}" font-size="10">'
            f"{escape(s.label[:22])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
