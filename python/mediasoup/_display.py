"""How mediasoup looks in Jupyter and IPython: the rich reprs of the objects,
and the types of what ``dump()`` and ``getStats()`` return.

- :class:`Summary`: what an object shows (its class, id, status, fields and
  children), which ``_object.py`` builds from the object; :func:`object_html`
  and :func:`object_text` render it for ``_repr_html_`` and ``_repr_pretty_``.
- :class:`Dump` (a ``dict``) and :class:`Stats` (a ``list`` of dicts): the
  plain containers plus ``_repr_html_`` and ``_repr_pretty_``, nothing else,
  so they compare, index and serialise exactly as before.

Everything shown is escaped (peer names, labels and appData come from remote
clients), and bounded: a room of 5,000 peers shows its first rows and how
many more there are. It imports nothing of the package: the lowest layer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Dump", "Stats", "Id", "State", "Summary", "object_html", "object_text"]

# Rows of a table (children, entries of a dict, items of a list) shown before "… and K more".
MAX_ROWS = 20
# Rows of a stats table: a direct transport has an entry per sender.
MAX_STATS_ROWS = 50
# Scalars of a list shown inline in one cell.
MAX_INLINE = 5
# Columns of a table of records (a dict of dicts, a list of dicts).
MAX_COLUMNS = 12
# Nesting shown before a container is only counted.
MAX_DEPTH = 4
# Cells rendered in all before nested containers are only counted: with the
# caps above, what bounds a dump of any size.
MAX_CELLS = 2000
# Lines of a dump in IPython's console, likewise.
MAX_LINES = 200

_GREEN, _AMBER, _RED, _GREY = "#1a7f37", "#b35900", "#cf222e", "#6e7781"
_STATE_COLOURS = {
    **dict.fromkeys(("connected", "completed", "open", "active", "receiving"), _GREEN),
    **dict.fromkeys(("new", "connecting", "checking", "paused", "idle"), _AMBER),
    **dict.fromkeys(("failed", "closed", "disconnected"), _RED),
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TABLE = 'style="border-collapse:collapse;font-size:12px;text-align:left"'
_CELL = 'style="text-align:left;vertical-align:top;padding:1px 6px"'


class Id(str):
    """An id, shown as its first 8 characters and "…" (the whole in a tooltip)."""


class State(str):
    """A state, shown coloured: green once up, amber on the way, red when down."""


def state_colour(state: str) -> str:
    return _STATE_COLOURS.get(state, _GREY)


# Values: one cell of a table.


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _short(text: str) -> str:
    return text[:8] + "…" if len(text) > 9 else text


def _text(value: object) -> str:
    """A scalar (or an inline list of them) as text: full ids, plain states,
    numbers as they are (SSRCs, ports and pids are no quantities)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and all(_is_scalar(item) for item in value):
        return _inline(value, _text, ", ") if value else "[]"
    return str(value)


def _short_text(value: object) -> str:
    """:func:`_text`, ids shortened: for a row of many values."""
    return _short(value) if isinstance(value, Id) else _text(value)


def _html(value: object) -> str:
    """A scalar (or an inline list of them) as escaped HTML: ids shortened,
    states coloured, UUID-shaped strings taken for ids."""
    if isinstance(value, State):
        colour = state_colour(value)
        return f'<span style="color:{colour};font-weight:600">{html.escape(value)}</span>'
    if isinstance(value, Id) or (isinstance(value, str) and _UUID.match(value)):
        return f'<code title="{html.escape(value, quote=True)}">{html.escape(_short(value))}</code>'
    if value is None:
        return f'<span style="color:{_GREY}">—</span>'
    if isinstance(value, (list, tuple)) and all(_is_scalar(item) for item in value):
        return _inline(value, _html, ", ") if value else "[]"
    return html.escape(_text(value))


def _inline(items: Sequence[Any], render: Callable[[object], str], separator: str) -> str:
    shown = separator.join(render(item) for item in items[:MAX_INLINE])
    more = len(items) - MAX_INLINE
    return f"{shown}{separator}… and {more} more" if more > 0 else shown


def _more(count: int, columns: int) -> str:
    return f'<tr><td colspan="{columns}" {_CELL}><i>… and {count:,} more</i></td></tr>'


def _size(value: Mapping[Any, Any] | Sequence[Any]) -> str:
    if not value:
        return "{}" if isinstance(value, Mapping) else "[]"
    if isinstance(value, Mapping):
        return f"{{{len(value)} keys}}" if len(value) != 1 else "{1 key}"
    return f"[{len(value)} items]" if len(value) != 1 else "[1 item]"


# Objects.


@dataclass
class Summary:
    """What an object shows: ``kind`` (its class), ``id``, ``status`` (a state
    word) and ``fields`` (``(name, value)``: values are scalars, :class:`Id`,
    :class:`State` or lists of them)."""

    kind: str
    id: str
    status: str
    fields: list[tuple[str, object]] = field(default_factory=list)


@dataclass
class Children:
    """The objects an object holds, of one kind: the first ones summarised, and how many in all."""

    title: str
    first: list[Summary]
    total: int


def object_html(summary: Summary, children: Iterable[Children] = ()) -> str:
    """A table: the object's class, short id and status; its fields; a row per child (bounded)."""
    rows = [
        f'<tr><th colspan="2" {_CELL}>{html.escape(summary.kind)} {_html(Id(summary.id))} '
        f"{_html(State(summary.status))}</th></tr>"
    ]
    rows += [f"<tr><th {_CELL}>{html.escape(name)}</th><td {_CELL}>{_html(value)}</td></tr>" for name, value in summary.fields]
    for group in children:
        if not group.total:
            continue
        lines = "".join(
            f"<tr><td {_CELL}>{html.escape(child.kind)} {_html(Id(child.id))}</td><td {_CELL}>{_html(State(child.status))}</td>"
            f"<td {_CELL}>{' · '.join(f'{html.escape(name)} {_html(value)}' for name, value in child.fields)}</td></tr>"
            for child in group.first
        )
        if group.total > len(group.first):
            lines += _more(group.total - len(group.first), 3)
        rows.append(
            f'<tr><th {_CELL}>{html.escape(group.title)} ({group.total:,})</th><td {_CELL}><table {_TABLE}>{lines}</table></td></tr>'
        )
    return f'<table class="mediasoup-object" {_TABLE}>{"".join(rows)}</table>'


def object_text(summary: Summary, children: Iterable[Children] = ()) -> str:
    """The same as :func:`object_html`, as lines of text for IPython's console."""
    lines = [f"<{summary.kind} {summary.id} {summary.status}"]
    lines += [f"  {name}: {_text(value)}" for name, value in summary.fields]
    for group in children:
        if not group.total:
            continue
        lines.append(f"  {group.title} ({group.total:,}):")
        for child in group.first:
            details = " ".join(f"{name}={_short_text(value)}" for name, value in child.fields)
            lines.append(f"    {child.kind} {_short(child.id)} {child.status} {details}".rstrip())
        if group.total > len(group.first):
            lines.append(f"    … and {group.total - len(group.first):,} more")
    return "\n".join(lines) + ">"


# Dumps.


class _DumpHtml:
    """Renders nested dicts and lists as tables, within ``MAX_CELLS`` cells."""

    def __init__(self) -> None:
        self.budget = MAX_CELLS

    def cell(self, key: object, value: object, depth: int) -> str:
        self.budget -= 1
        if isinstance(value, str) and isinstance(key, str) and (key.endswith("State") or key == "state"):
            return _html(State(value))
        if _is_scalar(value) or (isinstance(value, (list, tuple)) and all(_is_scalar(item) for item in value)):
            return _html(value)
        if isinstance(value, Mapping) and len(value) <= 6 and all(_is_scalar(item) for item in value.values()):
            return ", ".join(f"{html.escape(str(name))}: {self.cell(name, item, depth + 1)}" for name, item in value.items())
        if not isinstance(value, (Mapping, list, tuple)):
            return html.escape(repr(value))
        size = html.escape(_size(value))
        if depth >= MAX_DEPTH or self.budget <= 0 or not value:
            return size
        # The top level's tables of records (peers by name, workers, candidates) open.
        opened = " open" if depth == 0 and self.is_records(value) else ""
        return f"<details{opened}><summary>{size}</summary>{self.container(value, depth + 1)}</details>"

    @staticmethod
    def is_records(value: Mapping[Any, Any] | Sequence[Any]) -> bool:
        """A dict of dicts or a list of dicts (the first ``MAX_ROWS``): a table, a row each."""
        records = list(value.values() if isinstance(value, Mapping) else value)[:MAX_ROWS]
        return bool(records) and all(isinstance(record, Mapping) for record in records)

    def container(self, value: Mapping[Any, Any] | Sequence[Any], depth: int) -> str:
        items = list(value.items()) if isinstance(value, Mapping) else list(enumerate(value))
        if self.is_records(value):
            return self.records(items, isinstance(value, Mapping), depth)
        return self.entries(items, depth)

    def entries(self, items: list[tuple[Any, Any]], depth: int) -> str:
        """A row per key (scalars first), or per item of a list."""
        shown = sorted(items, key=lambda item: not _is_scalar(item[1]))[:MAX_ROWS]
        rows = "".join(f"<tr><th {_CELL}>{_html(key)}</th><td {_CELL}>{self.cell(key, item, depth)}</td></tr>" for key, item in shown)
        if len(items) > MAX_ROWS:
            rows += _more(len(items) - MAX_ROWS, 2)
        return f"<table {_TABLE}>{rows}</table>"

    def records(self, items: list[tuple[Any, Any]], keyed: bool, depth: int) -> str:
        """A row per record (the peers by name, the codecs of a list), a column per field."""
        columns: list[str] = []
        for _, record in items[:MAX_ROWS]:
            columns += [name for name in record if name not in columns]
        hidden = len(columns) - MAX_COLUMNS
        columns = columns[:MAX_COLUMNS]
        head = "".join(f"<th {_CELL}>{html.escape(str(name))}</th>" for name in columns)
        head = (f"<th {_CELL}></th>" if keyed else "") + head + (f"<th {_CELL}>(+{hidden} fields)</th>" if hidden > 0 else "")
        rows = ""
        for key, record in items[:MAX_ROWS]:
            cells = "".join(f"<td {_CELL}>{self.cell(name, record[name], depth) if name in record else ''}</td>" for name in columns)
            rows += "<tr>" + (f"<th {_CELL}>{_html(key)}</th>" if keyed else "") + cells + "</tr>"
        if len(items) > MAX_ROWS:
            rows += _more(len(items) - MAX_ROWS, len(columns) + int(keyed))
        return f"<table {_TABLE}><tr>{head}</tr>{rows}</table>"


def _dump_lines(value: Mapping[Any, Any] | Sequence[Any], indent: str, depth: int, lines: list[str]) -> None:
    """``value`` (a dict or a list) as YAML-like lines, bounded like the HTML
    (``MAX_LINES``): a list's dicts as ``- key: value`` blocks."""
    items = list(value.items()) if isinstance(value, Mapping) else list(enumerate(value))
    for key, item in items[:MAX_ROWS]:
        name = f"{indent}{key}:" if isinstance(value, Mapping) else f"{indent}-"
        if _is_scalar(item) or (isinstance(item, (list, tuple)) and all(_is_scalar(x) for x in item)):
            lines.append(f"{name} {_text(item)}")
        elif isinstance(item, (Mapping, list, tuple)) and item and depth < MAX_DEPTH and len(lines) < MAX_LINES:
            start = len(lines)
            _dump_lines(item, indent + "  ", depth + 1, lines)
            if isinstance(value, Mapping) or not isinstance(item, Mapping):
                lines.insert(start, name)
            else:
                # "- " takes the place of the indent of the dict's first line.
                lines[start] = name + " " + lines[start][len(indent) + 2 :]
        else:
            lines.append(f"{name} {_size(item) if isinstance(item, (Mapping, list, tuple)) else repr(item)}")
    if len(items) > MAX_ROWS:
        lines.append(f"{indent}… and {len(items) - MAX_ROWS:,} more")


class _Printer(Protocol):
    """IPython's ``RepresentationPrinter``, as far as it is used here."""

    def text(self, obj: str) -> None: ...


class Dump(dict[str, Any]):
    """What ``dump()`` returns: a plain ``dict`` (equal to one, JSON-serialisable
    as one) that Jupyter shows as a table, bounded for big rooms."""

    def _repr_html_(self) -> str:
        return f'<table class="mediasoup-dump" {_TABLE}><tr><td {_CELL}>{_DumpHtml().entries(list(self.items()), 0)}</td></tr></table>'

    def _repr_pretty_(self, p: _Printer, cycle: bool) -> None:
        if cycle:
            p.text("{...}")
            return
        lines: list[str] = []
        _dump_lines(self, "", 0, lines)
        p.text("\n".join(lines) if lines else "{}")


# Stats.


def format_bytes(count: float) -> str:
    """850 B, 1.2 kB, 3.4 MB (SI, as network tools count)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def format_bitrate(bps: float) -> str:
    """950 bit/s, 850 kbit/s, 1.2 Mbit/s."""
    if abs(bps) < 1000:
        return f"{bps:.0f} bit/s"
    if abs(bps) < 1_000_000:
        return f"{bps / 1000:.0f} kbit/s"
    return f"{bps / 1_000_000:.1f} Mbit/s"


def _format_tuple(value: object) -> str:
    if not isinstance(value, Mapping):
        return _text(value)
    return f"{value.get('protocol')} {value.get('localIP')}:{value.get('localPort')} ⇄ {value.get('remoteIP')}:{value.get('remotePort')}"


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _text(value)


# The columns of a stats table, in order: (key, heading, format); a column is
# shown when an entry has a value for it. Other keys go to the last column.
_STATS_COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("type", "type", str),
    ("kind", "kind", str),
    ("ssrc", "ssrc", str),
    ("rid", "rid", str),
    ("mid", "mid", str),
    ("label", "label", str),
    ("iceState", "ice", str),
    ("dtlsState", "dtls", str),
    ("iceSelectedTuple", "selected tuple", _format_tuple),
    ("packetsReceived", "packets in", _count),
    ("bytesReceived", "bytes in", format_bytes),
    ("packetsSent", "packets out", _count),
    ("bytesSent", "bytes out", format_bytes),
    ("messagesReceived", "messages in", _count),
    ("messagesSent", "messages out", _count),
    ("packetsLost", "lost", _count),
    ("fractionLost", "loss", lambda fraction: f"{100 * fraction:.1f} %"),
    ("packetsDropped", "dropped", _count),
    ("packetsDiscarded", "discarded", _count),
    ("messagesDropped", "dropped", _count),
    ("nackCount", "NACK", _count),
    ("pliCount", "PLI", _count),
    ("firCount", "FIR", _count),
    ("bitrate", "bitrate", format_bitrate),
    ("roundTripTime", "RTT", lambda seconds: f"{1000 * seconds:.1f} ms"),
    ("jitter", "jitter", _count),
    ("queuedBytes", "queued", format_bytes),
]
_STATE_KEYS = {"iceState", "dtlsState"}
# Keys every entry has that say nothing to a reader of the table.
_UNSHOWN = {"timestamp"}


class Stats(list[dict[str, Any]]):
    """What ``getStats()`` returns: a plain ``list`` of dicts (equal to one,
    JSON-serialisable as one) that Jupyter shows as a table, a row per entry."""

    def _columns(self) -> tuple[list[tuple[str, str, Callable[[Any], str]]], list[str]]:
        entries = [entry for entry in self[:MAX_STATS_ROWS] if isinstance(entry, Mapping)]
        columns = [column for column in _STATS_COLUMNS if any(entry.get(column[0]) is not None for entry in entries)]
        known = {key for key, _, _ in _STATS_COLUMNS} | _UNSHOWN
        others: list[str] = []
        for entry in entries:
            others += [key for key in entry if key not in known and key not in others]
        return columns, others

    def _repr_html_(self) -> str:
        columns, others = self._columns()
        head = "".join(f"<th {_CELL}>{html.escape(heading)}</th>" for _, heading, _ in columns)
        head += f"<th {_CELL}>more</th>" if others else ""
        rows = ""
        for entry in self[:MAX_STATS_ROWS]:
            if not isinstance(entry, Mapping):
                rows += f'<tr><td colspan="{len(columns) + 1}" {_CELL}>{html.escape(repr(entry))}</td></tr>'
                continue
            cells = ""
            for key, _, form in columns:
                value = entry.get(key)
                if value is None:
                    shown = ""
                elif key in _STATE_KEYS:
                    shown = _html(State(str(value)))
                elif key == "type":
                    shown = f"<b>{html.escape(str(value))}</b>"
                else:
                    shown = html.escape(form(value))
                cells += f"<td {_CELL}>{shown}</td>"
            if others:
                rest = {key: entry[key] for key in others if key in entry}
                cells += f"<td {_CELL}>{_DumpHtml().cell('', rest, 1) if rest else ''}</td>"
            rows += f"<tr>{cells}</tr>"
        if len(self) > MAX_STATS_ROWS:
            rows += _more(len(self) - MAX_STATS_ROWS, len(columns) + 1)
        if not self:
            rows = f"<tr><td {_CELL}><i>no stats yet</i></td></tr>"
        return f'<table class="mediasoup-stats" {_TABLE}><tr>{head}</tr>{rows}</table>'

    def _repr_pretty_(self, p: _Printer, cycle: bool) -> None:
        if cycle:
            p.text("[...]")
            return
        columns, _ = self._columns()
        table = [[heading for _, heading, _ in columns]]
        for entry in self[:MAX_STATS_ROWS]:
            if isinstance(entry, Mapping):
                table.append(["" if entry.get(key) is None else form(entry[key]) for key, _, form in columns])
        widths = [max(len(row[index]) for row in table) for index in range(len(columns))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
        if len(self) > MAX_STATS_ROWS:
            lines.append(f"… and {len(self) - MAX_STATS_ROWS:,} more")
        p.text("\n".join(lines) if self else "[]")
