"""``KEY=VALUE`` pairs, as ``--env`` takes them (the agent's and ``dockyard run create``'s)."""

from __future__ import annotations

from collections.abc import Iterable


def parse_key_values(items: Iterable[str]) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` → ``{"A": "1", "B": "x=y"}``: split at the first ``=``, later
    keys win. Raises ``ValueError`` naming an item without a key or an ``=``."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs
