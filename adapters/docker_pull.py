"""A pull's progress stream, summed up: the Engine sends an event per layer and per chunk
(``Pulling fs layer``, ``Downloading`` with ``progressDetail``, ``Pull complete``...); the
agent wants to know how many layers, how many bytes, how far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.domain.agent.runtime_state import PullProgress

_DOWNLOADED = frozenset({"Verifying Checksum", "Download complete", "Extracting"})
# What the Engine says about one layer ("Retrying in 5 seconds" too); "Pulling from <repo>"
# carries the tag as its id, not a layer's.
_LAYER_STATUSES = _DOWNLOADED | {
    "Pulling fs layer",
    "Waiting",
    "Downloading",
    "Pull complete",
    "Already exists",
}


@dataclass
class _Layer:
    current: int = 0
    total: int = 0
    done: bool = False
    present: bool = False


class PullStream:
    """Feed it the stream's decoded events; ``progress`` is the summary so far."""

    def __init__(self) -> None:
        self._layers: dict[str, _Layer] = {}

    def feed(self, event: Any) -> bool:
        """Take one event; True if it changed the summary."""
        if not isinstance(event, Mapping) or not isinstance(event.get("id"), str):
            return False
        status = str(event.get("status") or "")
        layer = self._layers.get(event["id"])
        if layer is None:
            if status not in _LAYER_STATUSES and not status.startswith("Retrying"):
                return False
            layer = self._layers[event["id"]] = _Layer()
        detail = event.get("progressDetail") or {}
        if status == "Downloading" and isinstance(detail, Mapping):
            layer.current = _int(detail.get("current"), layer.current)
            layer.total = _int(detail.get("total"), layer.total)
        elif status in _DOWNLOADED:
            layer.current = max(layer.current, layer.total)
        elif status == "Pull complete":
            layer.current, layer.done = max(layer.current, layer.total), True
        elif status == "Already exists":
            layer.done = layer.present = True
        elif status.startswith("Retrying"):
            layer.current = 0
        return True

    @property
    def progress(self) -> PullProgress:
        layers = self._layers.values()
        return PullProgress(
            layers=len(self._layers),
            layers_done=sum(layer.done for layer in layers),
            layers_present=sum(layer.present for layer in layers),
            downloaded_bytes=sum(layer.current for layer in layers),
            total_bytes=sum(layer.total for layer in layers),
        )


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
