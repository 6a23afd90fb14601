"""Options given as a dict, as keywords, or both, in camelCase or snake_case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._mediasoup import snake_case


def merge_options(where: str, options: Mapping[str, Any] | None, keywords: dict[str, Any]) -> dict[str, Any]:
    """One dict from ``options`` and ``keywords``; a key given in both raises ``TypeError``."""
    if options is None:
        merged: dict[str, Any] = {}
    elif isinstance(options, Mapping):
        merged = dict(options)
    else:
        raise TypeError(f"{where} takes a dict of options, not {type(options).__name__}")
    for key, value in keywords.items():
        if key in merged:
            raise TypeError(f"{where}: option {key!r:.80} is given twice")
        merged[key] = value
    return merged


def pick_options(where: str, options: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """``options`` keyed by the camelCase ``names``; unknown or repeated names raise ``TypeError``."""
    by_alias = {alias: name for name in names for alias in (name, snake_case(name))}
    picked: dict[str, Any] = {}
    for key, value in options.items():
        name = by_alias.get(key)
        if name is None:
            raise TypeError(f"{where} got an unknown option {key!r:.80}; the options are {', '.join(names)}")
        if name in picked:
            raise TypeError(f"{where}: option {name} is given twice (camelCase and snake_case)")
        picked[name] = value
    return picked

