"""What every resolver gets as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.domain.server.context import Caller
from dockyard.domain.server.service import ServerService
from dockyard.ports.run_store import StoreSession


@dataclass
class RequestContext:
    service: ServerService
    caller: Caller
    # The snapshot a query document reads from; None while a mutation runs (each mutation
    # opens its own unit of work through the service).
    session: StoreSession | None = None

    def reader(self) -> StoreSession:
        if self.session is None:
            raise RuntimeError("reads inside a mutation document are not supported")
        return self.session
