"""Errors the backend answers clients with.

The message of each is sent to the client verbatim; some are matched literally by Prefect
1.4.1 clients (``Uniqueness violation.``, ``State update failed...``), so their wording is
part of the contract. ``code`` goes to the GraphQL error's ``extensions``.
"""

from __future__ import annotations

from dockyard.domain.errors import DockyardError


class ApiError(DockyardError):
    """An error a client caused or must hear about; never an internal fault."""

    code = "BAD_REQUEST"


class InvalidInput(ApiError):
    code = "BAD_USER_INPUT"


class NotFound(ApiError):
    code = "NOT_FOUND"


class UniqueViolation(ApiError):
    """A row with the same unique key exists. Prefect's clients match the exact text."""

    code = "UNIQUENESS_VIOLATION"

    def __init__(self, message: str = "Uniqueness violation.") -> None:
        super().__init__(message)


class StateUpdateFailed(ApiError):
    """A state write the rules refuse. Agents match the words ``State update failed``."""

    code = "STATE_UPDATE_FAILED"


SUBMITTED_LOCK_MESSAGE = "State update failed: this run has already been submitted."


class AlreadySubmitted(StateUpdateFailed):
    """The Submitted lock: another agent has this run."""

    def __init__(self) -> None:
        super().__init__(SUBMITTED_LOCK_MESSAGE)


class StoreUnavailable(DockyardError):
    """The store could not serve the request now (e.g. locked too long); worth a retry."""
