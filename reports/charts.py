"""Charts drawn on the server as inline SVG: horizontal bars, a line across periods, stacked bars.

Nothing here reads the database: a chart gets the numbers and the words to print, already chosen
by the caller, and returns markup. Every label passes through format_html, so an organisation
named "<script>" stays text. The pages send a CSP without inline styles, so shapes carry classes
(static/css/dashboard.css colours them) and presentation attributes, never `style`.

A chart is 320 units wide, the width of a 375 px phone's card: there a unit is a pixel and the
13-unit labels read at 13 px; the stylesheet caps the width on a wide screen so the text does not
grow past what a reader expects. Long labels are cut to fit with "…" and keep their whole text in
a <title> (the tooltip). The <desc> lists every number, which a screen reader reads instead of the
shapes; without any number to draw the chart is "暂无数据".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 320
FONT = 13  # labels
SMALL = 11  # values, axes and legends
VALUE_WIDTH = 58  # room for "100.0%" or "12345" right of a bar
BESIDE = 96  # labels up to this wide sit beside their bar (seven characters), longer ones above
SERIES = 6  # the stylesheet's colour classes: s0 … s5

EMPTY = "暂无数据"


@dataclass(frozen=True)
class Value:
    """One bar or one point: its length on the chart's scale (None: nothing to draw, as for a
    rate where nothing was owed), the text printed beside it, and a longer note for the
    tooltip and the text alternative (e.g. "17/20")."""

    amount: float | None
    text: str
    note: str = ""


@dataclass(frozen=True)
class BarRow:
    label: str
    values: tuple[Value, ...]  # one per series
    url: str = ""


@dataclass(frozen=True)
class StackRow:
    label: str
    parts: tuple[int, ...]  # one per part name, all on one bar
    url: str = ""
    unit: str = ""  # what is counted: 人, 个


# ---------------------------------------------------------------- measuring text


def text_width(text: str, size: float) -> float:
    """An estimate of `text`'s width: a CJK character is one em, a Latin one a little over half."""
    return sum(size * (0.58 if ord(ch) < 0x2E80 else 1.0) for ch in text)


def fit(text: str, width: float, size: float) -> str:
    """`text` cut to `width` with an ellipsis."""
    if text_width(text, size) <= width:
        return text
    room = width - text_width("…", size)
    kept = ""
    for ch in text:
        if text_width(kept + ch, size) > room:
            break
        kept += ch
    return kept + "…"


def _n(x: float) -> str:
    """A coordinate as SVG reads it: at most one decimal."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


# ---------------------------------------------------------------- the frame


def _svg(key: str, title: str, desc: str, height: float, body: SafeString, css: str) -> SafeString:
    return format_html(
        '<svg class="chart-svg {css}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'role="img" aria-labelledby="{key}-t {key}-d" focusable="false" '
        'font-size="{font}" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{key}-t">{title}</title><desc id="{key}-d">{desc}</desc>{body}</svg>',
        css=css,
        w=WIDTH,
        h=_n(height),
        key=key,
        title=title,
        desc=desc,
        body=body,
        font=FONT,
    )


def _empty() -> SafeString:
    return format_html('<p class="empty chart-empty">{}</p>', EMPTY)


def _legend(names: Sequence[str], y: float) -> tuple[SafeString, float]:
    """Swatches and names in a row, wrapping onto a new line when the width runs out."""
    x, items = 0.0, []
    for i, name in enumerate(names):
        w = 14 + text_width(name, SMALL) + 12
        if x and x + w > WIDTH:
            x, y = 0.0, y + 16
        items.append(
            format_html(
                '<rect class="s{s}" x="{x}" y="{ry}" width="10" height="10" rx="2"/>'
                '<text class="legend" x="{tx}" y="{ty}" font-size="{size}">{name}</text>',
                s=i % SERIES,
                x=_n(x),
                ry=_n(y - 9),
                tx=_n(x + 14),
                ty=_n(y),
                size=SMALL,
                name=name,
            )
        )
        x += w
    return mark_safe("".join(items)), y + 10


def _linked(url: str, body: SafeString) -> SafeString:
    if not url:
        return format_html("<g>{}</g>", body)
    return format_html('<a href="{}" class="chart-link">{}</a>', url, body)


# ---------------------------------------------------------------- horizontal bars


def _said(name: str, value: Value, series: int) -> str:
    """A value as the tooltip and the text alternative say it: its series' name when there are
    several, and its note."""
    said = f"{name} {value.text}" if series > 1 else value.text
    return said + (f"（{value.note}）" if value.note else "")


def bars(
    *,
    key: str,
    title: str,
    series: Sequence[str],
    rows: Sequence[BarRow],
    scale: float | None = None,
) -> SafeString:
    """A row per label with a bar per series and its value at the right. Short labels of a
    single series sit beside their bar; otherwise each label has its own line above its bars.
    `scale` is the full bar's amount (1 for rates; by default the largest amount). A row with a
    url is one link, label and bars together (a large target on a phone)."""
    amounts = [v.amount for r in rows for v in r.values if v.amount is not None]
    if not rows or not any(amounts):
        return _empty()
    full = scale or max(amounts)
    widest = max(text_width(r.label, FONT) for r in rows)
    indent = widest + 8 if len(series) == 1 and widest <= BESIDE else 0.0
    track = WIDTH - VALUE_WIDTH - indent
    parts: list[SafeString] = []
    y = 0.0
    if len(series) > 1:
        legend, y = _legend(series, 12)
        parts.append(legend)
        y += 8
    for row in rows:
        notes = "，".join(
            _said(name, v, len(series)) for name, v in zip(series, row.values, strict=True)
        )
        shapes = [
            format_html(
                '<title>{full}：{notes}</title><text class="label" x="0" y="{y}">{label}</text>',
                full=row.label,
                notes=notes,
                y=_n(y + FONT),
                label=row.label if indent else fit(row.label, WIDTH, FONT),
            )
        ]
        by = y + 4 if indent else y + FONT + 5
        for i, v in enumerate(row.values):
            length = 0.0 if not v.amount else max(2.0, track * min(v.amount / full, 1.0))
            shapes.append(
                format_html(
                    '<rect class="track" x="{x}" y="{y}" width="{track}" height="10" rx="2"/>'
                    '<rect class="s{s}" x="{x}" y="{y}" width="{w}" height="10" rx="2"/>'
                    '<text class="value" x="{vx}" y="{ty}" text-anchor="end" '
                    'font-size="{size}">{text}</text>',
                    x=_n(indent),
                    y=_n(by),
                    track=_n(track),
                    s=i % SERIES,
                    w=_n(length),
                    vx=WIDTH,
                    ty=_n(by + 9.5),
                    size=SMALL,
                    text=v.text,
                )
            )
            by += 14
        parts.append(_linked(row.url, mark_safe("".join(shapes))))
        y = by + (6 if indent else 8)
    desc = "；".join(
        f"{r.label}："
        + "，".join(_said(name, v, len(series)) for name, v in zip(series, r.values, strict=True))
        for r in rows
    )
    return _svg(key, title, desc, y, mark_safe("".join(parts)), "chart-bars")


# ---------------------------------------------------------------- a line across periods


def _axis(amount: float, scale: float) -> str:
    return f"{100 * amount:.0f}%" if scale == 1 else _n(amount)


def _value_places(ys: list[float], *, floor: float) -> list[float]:
    """Where to print the values of points at heights `ys` (top first) in one period: the top
    one above its point, each lower one below its own unless that would pass `floor`; a value
    that has to go above pushes those above it further up, a line apart."""
    places: list[float] = []
    for n, y in enumerate(ys):
        if n and y + 15 <= floor:
            places.append(y + 15)
            continue
        places.append(y - 7)
        for k in range(n - 1, -1, -1):  # keep a line between it and the ones printed above
            if places[k] > places[k + 1] - 12:
                places[k] = places[k + 1] - 12
    return places


def line(
    *,
    key: str,
    title: str,
    periods: Sequence[str],
    series: Sequence[tuple[str, Sequence[Value]]],
    scale: float = 1.0,
) -> SafeString:
    """A line per series across `periods` (a point per period; None leaves it out: a period not
    yet begun), the y axis from 0 to `scale` with lines at a half and the whole. Each point has
    its value printed by it: in a period the upper point's above, the lower ones' below, so two
    lines running close together do not print over each other."""
    if not periods or not any(v.amount is not None for _, vals in series for v in vals):
        return _empty()
    legend, top = _legend([name for name, _ in series], 12)
    top += 22  # room for a value printed above a point at the top line
    left, right, bottom, inset = 34.0, 4.0, 22.0, 24.0
    plot_h = 120.0
    height = top + plot_h + bottom
    span = WIDTH - left - right - 2 * inset
    step = span / max(len(periods) - 1, 1)

    def px(i: int) -> float:
        return left + inset + (step * i if len(periods) > 1 else span / 2)

    def py(amount: float) -> float:
        return top + plot_h * (1 - min(max(amount / scale, 0.0), 1.0))

    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end" font-size="{}">{}</text>',
        (
            (_n(left), _n(WIDTH - right), _n(py(f * scale)), _n(py(f * scale)))
            + (_n(left - 5), _n(py(f * scale) + 4), SMALL, _axis(f * scale, scale))
            for f in (0, 0.5, 1)
        ),
    )
    ticks = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="middle" font-size="{}">{}</text>',
        ((_n(px(i)), _n(top + plot_h + 16), SMALL, name) for i, name in enumerate(periods)),
    )
    lines = []
    for s, (_, values) in enumerate(series):
        points = [(px(i), py(v.amount)) for i, v in enumerate(values) if v.amount is not None]
        if len(points) > 1:
            lines.append(
                format_html(
                    '<polyline class="line s{}" fill="none" points="{}"/>',
                    s % SERIES,
                    " ".join(f"{_n(x)},{_n(y)}" for x, y in points),
                )
            )
    drawn = []
    for i in range(len(periods)):
        here = sorted(
            (py(values[i].amount), s, name, values[i])
            for s, (name, values) in enumerate(series)
            if values[i].amount is not None
        )
        labels = _value_places([y for y, *_ in here], floor=top + plot_h - 2)
        drawn += [
            format_html(
                "<g><title>{name} {text}{note}</title>"
                '<circle class="dot s{s}" cx="{x}" cy="{y}" r="3.5"/>'
                '<text class="value" x="{x}" y="{ty}" text-anchor="middle" '
                'font-size="{size}">{text}</text></g>',
                name=name,
                text=v.text,
                note=f"（{v.note}）" if v.note else "",
                s=s % SERIES,
                x=_n(px(i)),
                y=_n(y),
                ty=_n(ty),
                size=SMALL,
            )
            for (y, s, name, v), ty in zip(here, labels, strict=True)
        ]
    desc = "；".join(
        f"{name}：" + "，".join(f"{p} {v.text}" for p, v in zip(periods, values, strict=True))
        for name, values in series
    )
    body = mark_safe(legend + grid + ticks + "".join(lines) + "".join(drawn))
    return _svg(key, title, desc, height, body, "chart-line")


# ---------------------------------------------------------------- stacked bars


def stacks(*, key: str, title: str, names: Sequence[str], rows: Sequence[StackRow]) -> SafeString:
    """A bar per row divided among `names` in proportion, its total beside the label and a
    legend with each part's count under it."""
    if not rows or not any(sum(r.parts) for r in rows):
        return _empty()
    parts: list[SafeString] = []
    y = 0.0
    for row in rows:
        total = sum(row.parts)
        head = f"共 {total} {row.unit}".rstrip()
        label = fit(row.label, WIDTH - text_width(head, SMALL) - 8, FONT)
        shapes = [
            format_html(
                '<text class="label" x="0" y="{y}">{label}</text>'
                '<text class="value" x="{w}" y="{y}" text-anchor="end" font-size="{size}">'
                "{head}</text>",
                y=_n(y + FONT),
                label=label,
                w=WIDTH,
                size=SMALL,
                head=head,
            )
        ]
        by = y + FONT + 5
        shapes.append(
            format_html(
                '<rect class="track" x="0" y="{}" width="{}" height="14" rx="2"/>', _n(by), WIDTH
            )
        )
        x = 0.0
        for i, n in enumerate(row.parts):
            if not n:
                continue
            w = WIDTH * n / total
            shapes.append(
                format_html(
                    '<rect class="s{s}" x="{x}" y="{y}" width="{w}" height="14">'
                    "<title>{name}：{n}{unit}（{share}）</title></rect>",
                    s=i % SERIES,
                    x=_n(x),
                    y=_n(by),
                    w=_n(w),
                    name=names[i],
                    n=n,
                    unit=row.unit,
                    share=percent(n / total),
                )
            )
            x += w
        counts = [f"{name} {n}" for name, n in zip(names, row.parts, strict=True)]
        legend, by = _legend(counts, by + 14 + 16)
        shapes.append(legend)
        title_text = f"{row.label}：" + "，".join(counts)
        parts.append(
            _linked(
                row.url, format_html("<title>{}</title>{}", title_text, mark_safe("".join(shapes)))
            )
        )
        y = by + 10
    desc = "；".join(
        f"{r.label}（共 {sum(r.parts)} {r.unit}）："
        + "，".join(f"{name} {n}" for name, n in zip(names, r.parts, strict=True))
        for r in rows
    )
    return _svg(key, title, desc, y, mark_safe("".join(parts)), "chart-stacks")
