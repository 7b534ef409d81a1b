"""Entrypoints: the CLI, the composition root, settings, and the public library API.

``from dockyard.entrypoints import DockerAgent`` is the library's front door. It is loaded
on first use, so the CLI does not pay for importing the agent's whole stack up front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.entrypoints.library import DockerAgent

__all__ = ["DockerAgent"]


def __getattr__(name: str) -> Any:
    if name == "DockerAgent":
        from dockyard.entrypoints.library import DockerAgent

        return DockerAgent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
