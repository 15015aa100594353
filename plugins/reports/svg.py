"""Small inline-SVG charts, so a report opens offline with no scripts and no network.

Each function returns an ``<svg>`` string sized by a viewBox, so it scales with
the page. Colours come from one palette, and every chart has axis labels and a
legend where it has more than one series.
"""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]
WIDTH, HEIGHT = 640, 300
MARGIN = dict(left=58, right=16, top=18, bottom=46)

Series = tuple[str, Sequence[tuple[float, float]]]


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _nice_range(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.ceil(lo / step) * step
    ticks, value = [], start
    while value <= hi + 1e-12:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _fmt(value: float) -> str:
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.0e}"
    return f"{value:.4g}"


class _Frame:
    """Maps data coordinates to the plot area and draws axes."""

    def __init__(self, xs: list[float], ys: list[float], x_label: str, y_label: str, log_x: bool = False,
                 y_range: tuple[float, float] | None = None) -> None:
        self.log_x = log_x
        xs = [math.log10(x) for x in xs if x > 0] if log_x else xs
        self.x0, self.x1 = _nice_range(min(xs, default=0), max(xs, default=1))
        self.y0, self.y1 = y_range or _nice_range(min(ys, default=0), max(ys, default=1))
        self.x_label, self.y_label = x_label, y_label
        self.pw = WIDTH - MARGIN["left"] - MARGIN["right"]
        self.ph = HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def x(self, value: float) -> float:
        value = math.log10(value) if self.log_x else value
        return MARGIN["left"] + (value - self.x0) / (self.x1 - self.x0) * self.pw

    def y(self, value: float) -> float:
        return MARGIN["top"] + (1 - (value - self.y0) / (self.y1 - self.y0)) * self.ph

    def axes(self, x_ticks: bool = True) -> str:
        parts = [f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{self.pw}" height="{self.ph}" '
                 f'fill="#fff" stroke="#cbd5e1"/>']
        for t in _ticks(self.y0, self.y1):
            y = self.y(t)
            parts.append(f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"] + self.pw}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="#eef2f7"/><text x="{MARGIN["left"] - 6}" y="{y + 4:.1f}" text-anchor="end">'
                         f'{_fmt(t)}</text>')
        for t in _ticks(self.x0, self.x1) if x_ticks else []:
            x = MARGIN["left"] + (t - self.x0) / (self.x1 - self.x0) * self.pw
            label = _fmt(10 ** t) if self.log_x else _fmt(t)
            parts.append(f'<text x="{x:.1f}" y="{MARGIN["top"] + self.ph + 16}" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{MARGIN["left"] + self.pw / 2}" y="{HEIGHT - 8}" text-anchor="middle" '
                     f'class="axis">{escape(self.x_label)}</text>')
        parts.append(f'<text transform="translate(14 {MARGIN["top"] + self.ph / 2}) rotate(-90)" '
                     f'text-anchor="middle" class="axis">{escape(self.y_label)}</text>')
        return "".join(parts)


def _reference_line(frame: _Frame, value: float, label: str) -> str:
    """A dashed red horizontal line (a threshold), labelled at the right edge."""
    y = frame.y(value)
    return (f'<line x1="{MARGIN["left"]}" x2="{WIDTH - MARGIN["right"]}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dc2626" stroke-dasharray="6 4"/><text x="{WIDTH - MARGIN["right"] - 4}" '
            f'y="{y - 4:.1f}" text-anchor="end" fill="#dc2626">{escape(label)}</text>')


def _svg(body: str, title: str) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg" class="chart"><title>{escape(title)}</title>{body}</svg>')


def _legend(names: Sequence[str]) -> str:
    if len(names) < 2:
        return ""
    parts, x = [], MARGIN["left"] + 8
    for i, name in enumerate(names):
        parts.append(f'<rect x="{x}" y="{MARGIN["top"] + 6}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{MARGIN["top"] + 15}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return "".join(parts)


def moving_average(points: Sequence[tuple[float, float]], window: int) -> list[tuple[float, float]]:
    """Each point's y replaced by the mean of the last ``window`` ys (fewer at the start)."""
    out, total = [], 0.0
    for i, (x, y) in enumerate(points):
        total += y
        if i >= window:
            total -= points[i - window][1]
        out.append((x, total / min(i + 1, window)))
    return out


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str, log_x: bool = False,
               hline: tuple[float, str] | None = None, smoothed: Sequence[str] = ()) -> str:
    """One polyline per series; an optional dashed horizontal reference line.

    Series named in ``smoothed`` are drawn as a moving average, their raw points
    faint behind it: a loss that alternates between short and long batches reads
    as a trend instead of a zigzag.
    """
    xs = _finite([x for _, pts in series for x, _ in pts])
    ys = _finite([y for _, pts in series for _, y in pts] + ([hline[0]] if hline else []))
    if not xs:
        return ""
    frame = _Frame(xs, ys, x_label, y_label, log_x)
    body = [frame.axes()]
    if hline:
        body.append(_reference_line(frame, *hline))
    for i, (name, pts) in enumerate(series):
        pts = [(x, y) for x, y in pts if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
               and (x > 0 or not log_x)]
        if not pts:
            continue
        colour = PALETTE[i % len(PALETTE)]
        if name in smoothed and len(pts) >= 4:
            raw = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in pts)
            body.append(f'<polyline points="{raw}" fill="none" stroke="{colour}" stroke-width="1" '
                        f'stroke-opacity="0.25"/>')
            pts = moving_average(pts, max(3, len(pts) // 10))
        path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        if len(pts) <= 30 and name not in smoothed:
            body += [f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3" fill="{colour}"/>' for x, y in pts]
    body.append(_legend([name for name, _ in series]))
    return _svg("".join(body), title)


def grouped_bars(groups: Sequence[str], series: Sequence[tuple[str, Sequence[float], Sequence[tuple[float, float]]]],
                 *, title: str, y_label: str, hline: tuple[float, str] | None = None) -> str:
    """Bars per group (x) and series (colour), each with an error bar (low, high)."""
    values = _finite([v for _, vals, _ in series for v in vals] + [e for _, _, errs in series for lo_hi in errs
                                                                    for e in lo_hi] + ([hline[0]] if hline else []) + [0])
    if not groups or not series:
        return ""
    frame = _Frame([0, len(groups)], values, "", y_label)
    frame.x0, frame.x1 = 0, len(groups)
    body = [frame.axes(x_ticks=False)]
    band = frame.pw / len(groups)
    bar = band * 0.8 / len(series)
    zero = frame.y(0)
    for g, group in enumerate(groups):
        body.append(f'<text x="{MARGIN["left"] + band * (g + 0.5):.1f}" y="{HEIGHT - 24}" text-anchor="middle">'
                    f'{escape(group)}</text>')
        for s, (_, vals, errs) in enumerate(series):
            value = vals[g]
            if value is None or not math.isfinite(value):
                continue
            x = MARGIN["left"] + band * g + band * 0.1 + bar * s
            y = frame.y(value)
            colour = PALETTE[s % len(PALETTE)]
            body.append(f'<rect x="{x:.1f}" y="{min(y, zero):.1f}" width="{bar * 0.92:.1f}" '
                        f'height="{abs(zero - y):.1f}" fill="{colour}" opacity="0.85"/>')
            lo, hi = errs[g] if g < len(errs) else (value, value)
            if math.isfinite(lo) and math.isfinite(hi):
                cx = x + bar * 0.46
                body.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{frame.y(lo):.1f}" y2="{frame.y(hi):.1f}" '
                            f'stroke="#111827" stroke-width="1.2"/>')
    if hline:
        body.append(_reference_line(frame, *hline))
    body.append(_legend([name for name, _, _ in series]))
    return _svg("".join(body), title)


def scatter(points: Sequence[tuple[str, float, float, bool]], *, title: str, x_label: str, y_label: str,
            pass_region_x: float | None = None) -> str:
    """Labelled points (label, x, y, passed); optionally shade x < pass_region_x as the pass region."""
    pts = [(label, x, y, ok) for label, x, y, ok in points if math.isfinite(x) and math.isfinite(y)]
    if not pts:
        return ""
    xs = [x for _, x, _, _ in pts] + ([pass_region_x] if pass_region_x is not None else []) + [0]
    ys = [y for _, _, y, _ in pts] + [0]
    span = (max(ys) - min(ys)) or 1.0
    # Headroom above the highest point: its label stays inside the plot, below the region's own label.
    frame = _Frame(xs, ys, x_label, y_label, y_range=(min(ys) - 0.08 * span, max(ys) + 0.35 * span))
    body = [frame.axes()]
    if pass_region_x is not None:
        left, right = frame.x(frame.x0), frame.x(min(pass_region_x, frame.x1))
        body.append(f'<rect x="{left:.1f}" y="{MARGIN["top"]}" width="{max(0, right - left):.1f}" '
                    f'height="{frame.ph}" fill="#16a34a" opacity="0.08"/><text x="{left + 6:.1f}" '
                    f'y="{MARGIN["top"] + 12}" fill="#15803d">passes</text>')
    for label, x, y, ok in pts:
        colour = "#16a34a" if ok else "#dc2626"
        # Labels right of the middle are drawn to the left of their point, so they are never clipped.
        right_half = frame.x(x) > MARGIN["left"] + frame.pw / 2
        anchor, dx = ("end", -8) if right_half else ("start", 8)
        body.append(f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="5" fill="{colour}"/>'
                    f'<text x="{frame.x(x) + dx:.1f}" y="{frame.y(y) - 6:.1f}" text-anchor="{anchor}">'
                    f'{escape(label)}</text>')
    return _svg("".join(body), title)


def histogram(values: Sequence[float], *, title: str, x_label: str, bins: int = 20,
              marker: tuple[float, str] | None = None) -> str:
    """A histogram of ``values``; an optional vertical marker (e.g. sequence_len)."""
    values = _finite(values)
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if marker:
        hi = max(hi, marker[0])
    width = (hi - lo) / bins or 1
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    frame = _Frame([lo, hi], [0, max(counts)], x_label, "examples", y_range=(0, max(counts) * 1.08))
    body = [frame.axes()]
    for i, count in enumerate(counts):
        x0, x1 = frame.x(lo + i * width), frame.x(lo + (i + 1) * width)
        body.append(f'<rect x="{x0:.1f}" y="{frame.y(count):.1f}" width="{max(0.5, x1 - x0 - 1):.1f}" '
                    f'height="{frame.y(0) - frame.y(count):.1f}" fill="{PALETTE[0]}" opacity="0.8"/>')
    if marker:
        x = frame.x(marker[0])
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN["top"]}" y2="{MARGIN["top"] + frame.ph}" '
                    f'stroke="#dc2626" stroke-dasharray="6 4"/><text x="{x - 4:.1f}" y="{MARGIN["top"] + 14}" '
                    f'text-anchor="end" fill="#dc2626">{escape(marker[1])}</text>')
    return _svg("".join(body), title)
