"""Small inline-SVG charts (no JavaScript, no external assets). Every label is escaped."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value."""
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return float(step)
    return float(value)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def _empty(title: str, height: int = 80) -> Markup:
    return Markup(f'<svg class="chart" viewBox="0 0 640 {height}" role="img" aria-label="{_e(title)}">'
                  f'<text x="320" y="{height // 2}" text-anchor="middle" class="muted">no data yet</text></svg>')


def _legend(names: list[str], y: float, width: int = 640) -> str:
    parts, x = [], 48.0
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x:.0f}" y="{y - 9:.0f}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{x + 14:.0f}" y="{y:.0f}" class="legend">{_e(name)}</text>')
        x += 24 + 7.5 * len(str(name))
        if x > width - 60:
            break
    return "".join(parts)


def _axes(ymax: float, left: int, top: int, w: int, h: int) -> str:
    out = []
    for k in range(5):
        v = ymax * k / 4
        y = top + h - h * k / 4
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_fmt(v)}</text>')
    return "".join(out)


def stacked_bars(title: str, x_labels: list[str], series: dict[str, list[float]], height: int = 260) -> Markup:
    """Vertical stacked bars, one bar per x label, one colour per series."""
    if not x_labels or not series:
        return _empty(title)
    left, top, w, h = 48, 16, 572, height - 70
    totals = [sum(vals[i] for vals in series.values()) for i in range(len(x_labels))]
    ymax = _nice_max(max(totals))
    slot = w / len(x_labels)
    bw = max(4.0, min(48.0, slot * 0.7))
    parts = [_axes(ymax, left, top, w, h)]
    for i, label in enumerate(x_labels):
        x = left + slot * i + (slot - bw) / 2
        y = top + h
        for j, (name, vals) in enumerate(series.items()):
            v = vals[i]
            if v <= 0:
                continue
            bh = h * v / ymax
            y -= bh
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                         f'fill="{PALETTE[j % len(PALETTE)]}"><title>{_e(label)} {_e(name)}: {_fmt(v)}</title></rect>')
        if len(x_labels) <= 16 or i % max(1, len(x_labels) // 12) == 0:
            parts.append(f'<text x="{left + slot * i + slot / 2:.1f}" y="{top + h + 16}" text-anchor="middle" '
                         f'class="tick">{_e(label)}</text>')
    parts.append(_legend(list(series), height - 12))
    return Markup(f'<svg class="chart" viewBox="0 0 640 {height}" role="img" aria-label="{_e(title)}">'
                  + "".join(parts) + "</svg>")


def line_chart(title: str, x_labels: list[str], series: dict[str, list[float]], height: int = 240) -> Markup:
    """Lines with points, one per series, over the x labels."""
    if not x_labels or not series:
        return _empty(title)
    left, top, w, h = 48, 16, 560, height - 70
    ymax = _nice_max(max(max(v) for v in series.values()))
    step = w / max(1, len(x_labels) - 1)
    parts = [_axes(ymax, left, top, w, h)]
    for j, (name, vals) in enumerate(series.items()):
        color = PALETTE[j % len(PALETTE)]
        pts = [(left + (step * i if len(x_labels) > 1 else w / 2), top + h - h * v / ymax) for i, v in enumerate(vals)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for (x, y), v, label in zip(pts, vals, x_labels):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
                         f'<title>{_e(label)} {_e(name)}: {_fmt(v)}</title></circle>')
    for i, label in enumerate(x_labels):
        if len(x_labels) <= 16 or i % max(1, len(x_labels) // 12) == 0:
            x = left + (step * i if len(x_labels) > 1 else w / 2)
            parts.append(f'<text x="{x:.1f}" y="{top + h + 16}" text-anchor="middle" class="tick">{_e(label)}</text>')
    parts.append(_legend(list(series), height - 12))
    return Markup(f'<svg class="chart" viewBox="0 0 640 {height}" role="img" aria-label="{_e(title)}">'
                  + "".join(parts) + "</svg>")


def hbars(title: str, items: list[tuple[str, float]], vmax: float | None = None, unit: str = "") -> Markup:
    """Horizontal bars (label, value), e.g. stress index per collector."""
    if not items:
        return _empty(title)
    row, left, w = 24, 110, 470
    height = 12 + row * len(items)
    top_value = vmax if vmax is not None else _nice_max(max(v for _, v in items))
    parts = []
    for i, (label, v) in enumerate(items):
        y = 6 + row * i
        bw = max(0.0, w * min(v, top_value) / top_value) if top_value else 0.0
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="tick">{_e(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{w}" height="16" class="track"/>'
                     f'<rect x="{left}" y="{y + 3}" width="{bw:.1f}" height="16" fill="{PALETTE[0]}">'
                     f'<title>{_e(label)}: {_fmt(v)}{_e(unit)}</title></rect>'
                     f'<text x="{left + w + 8}" y="{y + 15}" class="tick">{_fmt(v)}{_e(unit)}</text>')
    return Markup(f'<svg class="chart hbars" viewBox="0 0 640 {height}" role="img" aria-label="{_e(title)}">'
                  + "".join(parts) + "</svg>")
