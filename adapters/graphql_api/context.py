"""What every resolver gets as ``info.context``."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from dockyard.domain.server.context import Caller
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import StoreSession


@dataclass
class RequestContext:
    service: ServerService
    caller: Caller
    # Query documents read from one snapshot, opened by the first resolver that reads (a
    # long poll alone never holds one); mutations open their own units of work instead.
    reads_allowed: bool = False
    _stack: ExitStack = field(default_factory=ExitStack)
    _session: StoreSession | None = None

    def reader(self) -> StoreSession:
        if not self.reads_allowed:
            raise RuntimeError("reads inside a mutation document are not supported")
        if self._session is None:
            self._session = self._stack.enter_context(self.service.reading())
        return self._session

    def close(self) -> None:
        """End the snapshot, if one was opened."""
        self._stack.close()
