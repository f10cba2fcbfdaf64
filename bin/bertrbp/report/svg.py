"""Small inline-SVG charts for the HTML report.

Why not matplotlib PNGs: a report over hundreds of RBPs needs several charts per RBP; hand-written SVG costs
microseconds per chart instead of ~0.1 s, stays sharp at any zoom, carries hover titles, and keeps the page
self-contained without base64 blobs. Only what the report needs: line charts, scatter plots and a dot strip.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 270  # four per-RBP charts side by side in the report's 1240-px column
HEIGHT = 230
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 10, 26, 40
LEGEND_ROW = 15
MAX_MARKED_POINTS = 15  # per-point markers (with hover values) only on short series such as a few epochs
AXIS_COLOR = "#555"
GRID_COLOR = "#e6e6e6"
FONT = "font-family:system-ui,sans-serif"
_CLIP_IDS = itertools.count(1)  # clip-path ids must be unique within the page


@dataclass
class Series:
    """One line (or set of points) of a chart; ``mark`` is the index of a point to ring (e.g. the kept epoch)."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    color: str
    dashed: bool = False
    points: bool = False
    mark: int | None = None


@dataclass
class Guide:
    """A horizontal reference line with a label, e.g. the class-prior loss or the k-mer floor."""

    y: float
    label: str
    color: str = "#888"


@dataclass
class Dot:
    x: float
    y: float
    color: str
    tip: str


@dataclass
class Frame:
    """Maps data coordinates to pixels inside the plot area."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    top: int = MARGIN_TOP

    @property
    def plot_w(self) -> float:
        return self.width - self.left - MARGIN_RIGHT

    @property
    def plot_h(self) -> float:
        return self.height - self.top - MARGIN_BOTTOM

    def px(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (x - self.x0) / span * self.plot_w

    def py(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.top + self.plot_h - (y - self.y0) / span * self.plot_h


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1-2-5 steps)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float) -> str:
    """Pixel coordinates to 0.1 px, without a trailing '.0' (the page carries thousands of them)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tick_label(value: float, step: float | None = None) -> str:
    """'0.7', '0.69', '2': as many decimals as the tick step needs (two when unknown), no trailing zeros."""
    if float(value).is_integer():
        return str(int(value))
    decimals = 2 if not step else max(0, math.ceil(-math.log10(step) - 1e-9))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


def _step(ticks: list[float]) -> float | None:
    return ticks[1] - ticks[0] if len(ticks) > 1 else None


TEXT_CLASSES = {  # (anchor, size, color) -> class in STYLE; shorter than repeating the attributes
    ("middle", 12, "#222"): "h",
    ("middle", 10, AXIS_COLOR): "t",
    ("end", 10, AXIS_COLOR): "te",
    ("middle", 11, AXIS_COLOR): "a",
    ("start", 10, "#333"): "l",
    ("end", 11, "#222"): "g",
}
STYLE = """
svg.chart { font-family: system-ui, sans-serif; }
svg.chart text { fill: #555; font-size: 10px; text-anchor: middle; }
svg.chart text.h { fill: #222; font-size: 12px; font-weight: 600; }
svg.chart text.te { text-anchor: end; } svg.chart text.a { font-size: 11px; }
svg.chart text.l { fill: #333; text-anchor: start; } svg.chart text.g { fill: #222; font-size: 11px; text-anchor: end; }
svg.chart .grid { stroke: #e6e6e6; fill: none; }
"""  # included once in the report's <style>; inline SVG in the page picks it up


def _text(
    x: float, y: float, text: str, anchor: str = "middle", size: int = 11, color: str = AXIS_COLOR, extra: str = ""
) -> str:
    css = TEXT_CLASSES.get((anchor, size, color))
    style = f' class="{css}"' if css else f' text-anchor="{anchor}" font-size="{size}" fill="{color}"'
    return f'<text x="{_fmt(x)}" y="{_fmt(y)}"{style}{extra}>{html.escape(text)}</text>'


def _grid(segments: list[tuple[float, float, float, float]]) -> str:
    """All grid lines of a chart as one path."""
    d = "".join(f"M{_fmt(x1)} {_fmt(y1)}L{_fmt(x2)} {_fmt(y2)}" for x1, y1, x2, y2 in segments)
    return f'<path class="grid" d="{d}"/>'


def _open(title: str, width: int, height: int) -> list[str]:
    escaped = html.escape(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escaped}" style="{FONT}">',
        f"<title>{escaped}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
        _text(width / 2, 16, title, size=12, color="#222"),
    ]


def _axes(frame: Frame, x_label: str, y_label: str, integer_x: bool = False) -> list[str]:
    parts = []
    xticks = nice_ticks(frame.x0, frame.x1, 5)
    if integer_x:
        xticks = [t for t in xticks if float(t).is_integer()] or [frame.x0]
    yticks = nice_ticks(frame.y0, frame.y1, 4)
    bottom, right = frame.top + frame.plot_h, frame.left + frame.plot_w
    parts.append(
        _grid(
            [(frame.px(t), frame.top, frame.px(t), bottom) for t in xticks]
            + [(frame.left, frame.py(t), right, frame.py(t)) for t in yticks]
        )
    )
    for tick in xticks:
        parts.append(_text(frame.px(tick), bottom + 14, _tick_label(tick, _step(xticks)), size=10))
    for tick in yticks:
        parts.append(
            _text(frame.left - 5, frame.py(tick) + 3.5, _tick_label(tick, _step(yticks)), anchor="end", size=10)
        )
    parts.append(
        f'<rect x="{_fmt(frame.left)}" y="{_fmt(frame.top)}" width="{_fmt(frame.plot_w)}" '
        f'height="{_fmt(frame.plot_h)}" fill="none" stroke="{AXIS_COLOR}"/>'
    )
    parts.append(_text(frame.left + frame.plot_w / 2, frame.top + frame.plot_h + 30, x_label, size=11))
    cy = frame.top + frame.plot_h / 2
    parts.append(_text(11, cy, y_label, size=11, extra=f' transform="rotate(-90 11 {_fmt(cy)})"'))
    return parts


def _legend(entries: list[tuple[str, str, bool]], top: float, left: float, width: int) -> list[str]:
    """Legend rows under the plot, one entry per row (label, color, dashed): narrow charts have no room for two."""
    parts = []
    room = (width - left - 22) // 5.6  # characters that fit at font size 10
    for index, (label, color, dashed) in enumerate(entries):
        y = top + index * LEGEND_ROW
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        parts.append(
            f'<line x1="{_fmt(left)}" y1="{_fmt(y - 4)}" x2="{_fmt(left + 18)}" y2="{_fmt(y - 4)}" '
            f'stroke="{color}" stroke-width="2"{dash}/>'
        )
        short = label if len(label) <= room else label[: int(room) - 1] + "…"
        parts.append(_text(left + 22, y, short, anchor="start", size=10, color="#333"))
    return parts


def _legend_height(count: int, per_row: int = 1) -> int:
    return ((count + per_row - 1) // per_row) * LEGEND_ROW + (4 if count else 0)


def line_chart(
    title: str,
    series: list[Series],
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    guides: Sequence[Guide] = (),
    diagonal: bool = False,
    integer_x: bool = False,
    width: int = WIDTH,
) -> str:
    """Lines over a shared frame; ranges default to the data's extent (guides included)."""
    xs = [x for s in series for x in s.xs]
    ys = [y for s in series for y in s.ys if y is not None and math.isfinite(y)] + [g.y for g in guides]
    if x_range is None:
        x_range = (min(xs, default=0.0), max(xs, default=1.0))
        if x_range[0] == x_range[1]:
            x_range = (x_range[0] - 0.5, x_range[1] + 0.5)
    if y_range is None:
        low, high = min(ys, default=0.0), max(ys, default=1.0)
        pad = (high - low) * 0.08 or 0.05
        y_range = (low - pad, high + pad)
    entries = [(s.label, s.color, s.dashed) for s in series] + [(g.label, g.color, True) for g in guides]
    height = HEIGHT + _legend_height(len(entries))
    frame = Frame(*x_range, *y_range, width=width, height=HEIGHT)
    parts = _open(title, width, height)
    parts += _axes(frame, x_label, y_label, integer_x)
    clip = f"clip{next(_CLIP_IDS)}"
    parts.append(
        f'<clipPath id="{clip}"><rect x="{_fmt(frame.left)}" y="{_fmt(frame.top)}" '
        f'width="{_fmt(frame.plot_w)}" height="{_fmt(frame.plot_h)}"/></clipPath>'
    )
    if diagonal:
        parts.append(
            f'<line x1="{_fmt(frame.px(x_range[0]))}" y1="{_fmt(frame.py(y_range[0]))}" '
            f'x2="{_fmt(frame.px(x_range[1]))}" y2="{_fmt(frame.py(y_range[1]))}" stroke="#aaa" '
            f'stroke-dasharray="3 3" clip-path="url(#{clip})"/>'
        )
    for guide in guides:
        y = frame.py(guide.y)
        parts.append(
            f'<line x1="{_fmt(frame.left)}" y1="{_fmt(y)}" x2="{_fmt(frame.left + frame.plot_w)}" '
            f'y2="{_fmt(y)}" stroke="{guide.color}" stroke-width="1.5" stroke-dasharray="5 3">'
            f"<title>{html.escape(guide.label)}: {guide.y:.4f}</title></line>"
        )
    for s in series:
        pts = [(frame.px(x), frame.py(y)) for x, y in zip(s.xs, s.ys) if y is not None and math.isfinite(y)]
        if not pts:
            continue
        dash = ' stroke-dasharray="6 3"' if s.dashed else ""
        path = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in pts)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"{dash} '
            f'stroke-linejoin="round" clip-path="url(#{clip})"><title>{html.escape(s.label)}</title></polyline>'
        )
        if (s.points and len(pts) <= MAX_MARKED_POINTS) or len(pts) == 1:
            values = [(x, y) for x, y in zip(s.xs, s.ys) if y is not None and math.isfinite(y)]
            dots = "".join(
                f'<circle cx="{_fmt(px)}" cy="{_fmt(py)}" r="2.8"><title>{_tick_label(vx)}: {vy:.4f}'
                f"</title></circle>"
                for (px, py), (vx, vy) in zip(pts, values)
            )
            parts.append(f'<g fill="{s.color}"><title>{html.escape(s.label)}</title>{dots}</g>')
        if s.mark is not None and 0 <= s.mark < len(s.xs) and s.ys[s.mark] is not None:
            x, y = frame.px(s.xs[s.mark]), frame.py(s.ys[s.mark])
            parts.append(
                f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="5.5" fill="none" stroke="{s.color}" '
                f'stroke-width="1.8"><title>{html.escape(s.label)}: kept, {_tick_label(s.xs[s.mark])} → '
                f"{s.ys[s.mark]:.4f}</title></circle>"
            )
    parts += _legend(entries, HEIGHT + 8, 14, width)
    parts.append("</svg>")
    return "".join(parts)


def scatter_chart(
    title: str,
    dots: list[Dot],
    x_label: str,
    y_label: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    diagonal: bool = True,
    legend: Sequence[tuple[str, str]] = (),
    width: int = 400,
) -> str:
    """Points with hover titles (one per RBP and model) and an optional y = x line."""
    height = 300 + _legend_height(len(legend), 2)
    frame = Frame(*x_range, *y_range, width=width, height=300)
    parts = _open(title, width, height)
    parts += _axes(frame, x_label, y_label)
    if diagonal:
        low, high = max(x_range[0], y_range[0]), min(x_range[1], y_range[1])
        parts.append(
            f'<line x1="{_fmt(frame.px(low))}" y1="{_fmt(frame.py(low))}" x2="{_fmt(frame.px(high))}" '
            f'y2="{_fmt(frame.py(high))}" stroke="#999" stroke-dasharray="4 3"/>'
        )
    for dot in dots:
        x = frame.px(min(max(dot.x, x_range[0]), x_range[1]))
        y = frame.py(min(max(dot.y, y_range[0]), y_range[1]))
        parts.append(
            f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="4.5" fill="{dot.color}" fill-opacity="0.85" '
            f'stroke="#fff" stroke-width="0.8">'
            f"<title>{html.escape(dot.tip)}</title></circle>"
        )
    parts += _legend_dots(legend, 308, frame.left, width)
    parts.append("</svg>")
    return "".join(parts)


def _legend_dots(entries: Sequence[tuple[str, str]], top: float, left: float, width: int) -> list[str]:
    parts = []
    column_w = (width - left - MARGIN_RIGHT) / 2
    for index, (label, color) in enumerate(entries):
        row, col = divmod(index, 2)
        x, y = left + col * column_w, top + row * LEGEND_ROW
        parts.append(f'<circle cx="{_fmt(x + 6)}" cy="{_fmt(y - 4)}" r="4.5" fill="{color}"/>')
        parts.append(_text(x + 16, y, label, anchor="start", size=10, color="#333"))
    return parts


def strip_chart(
    title: str,
    rows: list[tuple[str, list[Dot]]],
    x_label: str,
    x_range: tuple[float, float],
    guides: Sequence[Guide] = (),
    legend: Sequence[tuple[str, str]] = (),
    width: int = 560,
) -> str:
    """One horizontal strip per group (e.g. per model tag), one dot per RBP; scales to hundreds of RBPs.

    Dots of a strip are spread vertically by a deterministic jitter so that equal values stay visible.
    """
    strip_h = 34
    left = 120
    plot_h = strip_h * max(len(rows), 1)
    base_h = MARGIN_TOP + plot_h + MARGIN_BOTTOM
    height = base_h + _legend_height(len(legend), 2)
    frame = Frame(x_range[0], x_range[1], 0, len(rows) or 1, width=width, height=base_h, left=left)
    parts = _open(title, width, height)
    xticks = nice_ticks(*x_range, 6)
    parts.append(_grid([(frame.px(t), frame.top, frame.px(t), frame.top + plot_h) for t in xticks]))
    for tick in xticks:
        parts.append(_text(frame.px(tick), frame.top + plot_h + 14, _tick_label(tick, _step(xticks)), size=10))
    for guide in guides:
        x = frame.px(guide.y)
        parts.append(
            f'<line x1="{_fmt(x)}" y1="{_fmt(frame.top)}" x2="{_fmt(x)}" y2="{_fmt(frame.top + plot_h)}" '
            f'stroke="{guide.color}" stroke-dasharray="4 3"><title>{html.escape(guide.label)}</title></line>'
        )
    for index, (group, dots) in enumerate(rows):
        top = frame.top + index * strip_h
        if index:
            parts.append(
                f'<line x1="{left}" y1="{_fmt(top)}" x2="{_fmt(left + frame.plot_w)}" y2="{_fmt(top)}" '
                f'stroke="{GRID_COLOR}"/>'
            )
        short = group if len(group) <= 18 else group[:16] + "…"
        parts.append(_text(left - 6, top + strip_h / 2 + 4, short, anchor="end", size=11, color="#222"))
        for number, dot in enumerate(dots):
            jitter = ((number * 0.618034) % 1.0 - 0.5) * (strip_h - 14) if len(dots) > 1 else 0.0
            x = frame.px(min(max(dot.x, x_range[0]), x_range[1]))
            parts.append(
                f'<circle cx="{_fmt(x)}" cy="{_fmt(top + strip_h / 2 + jitter)}" r="4.5" '
                f'fill="{dot.color}" fill-opacity="0.85" stroke="#fff" stroke-width="0.8"><title>{html.escape(dot.tip)}</title></circle>'
            )
    parts.append(
        f'<rect x="{left}" y="{_fmt(frame.top)}" width="{_fmt(frame.plot_w)}" height="{_fmt(plot_h)}" '
        f'fill="none" stroke="{AXIS_COLOR}"/>'
    )
    parts.append(_text(left + frame.plot_w / 2, frame.top + plot_h + 30, x_label, size=11))
    parts += _legend_dots(legend, base_h + 8, left, width)
    parts.append("</svg>")
    return "".join(parts)


def thin_curve(xs: Sequence[float], ys: Sequence[float], min_step: float = 0.004) -> tuple[list[float], list[float]]:
    """Drop points closer than ``min_step`` (unit square) to the last kept one; first and last always kept.

    A PR curve has one point per distinct score (thousands); the eye cannot tell the thinned one apart and the
    page stays small for hundreds of RBPs.
    """
    if len(xs) <= 2:
        return [float(x) for x in xs], [float(y) for y in ys]
    out_x, out_y = [float(xs[0])], [float(ys[0])]
    for x, y in zip(xs[1:-1], ys[1:-1]):
        if abs(x - out_x[-1]) + abs(y - out_y[-1]) >= min_step:
            out_x.append(float(x))
            out_y.append(float(y))
    out_x.append(float(xs[-1]))
    out_y.append(float(ys[-1]))
    return out_x, out_y
