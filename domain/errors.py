"""The one error tree of dockyard.

Everything dockyard raises on purpose is a ``DockyardError``. Entrypoints catch it and turn
it into an exit code or a GraphQL error in one place; adapters translate library errors into
these classes right where they happen (``raise ... from exc``).
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error dockyard raises on purpose."""


# -- configuration and input -------------------------------------------------------------


class ConfigurationError(DockyardError):
    """An option or setting the operator gave cannot be used (refused at start-up)."""


class AgentNameInUse(ConfigurationError):
    """Another live agent process on this host already serves this name on this Docker daemon:
    two of them would take the same runs for their own."""

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(
            f"another agent named {name!r} is already running on this host for this Docker daemon "
            f"({holder}); give each agent its own --name"
        )


class InvalidVolumeSpec(ConfigurationError):
    """A ``--volume`` spec that Docker would not accept."""


class InvalidImageReference(DockyardError):
    """An image reference that does not follow Docker's reference grammar."""


class RunRefused(DockyardError):
    """The agent will not run this flow run as asked (policy or invalid run config).

    The message is shown to the user as the run's Failed message, so it must say what was
    refused and, where an operator setting would allow it, which one.
    """


# -- the container runtime ----------------------------------------------------------------


class RuntimeUnavailable(DockyardError):
    """The Docker daemon cannot be reached."""


class RuntimeRequestFailed(DockyardError):
    """The Docker daemon answered with an error."""


class ImageNotFound(RuntimeRequestFailed):
    """The image is not present (and was not, or could not be, pulled)."""


class PullFailed(RuntimeRequestFailed):
    """Pulling an image failed; the message carries the registry's own words."""


class ContainerNameConflict(RuntimeRequestFailed):
    """A container with the requested name already exists."""


# -- the backend ---------------------------------------------------------------------------


class BackendUnavailable(DockyardError):
    """The backend API cannot be reached, or keeps answering with server errors."""


class BackendError(DockyardError):
    """The backend answered with a GraphQL error."""


class Unauthenticated(BackendError):
    """The backend refused our credentials."""


class SubmissionConflict(BackendError):
    """Another agent already submitted this run (the backend's Submitted lock)."""
