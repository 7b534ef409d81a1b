"""Image references by Docker's grammar, which image a run uses, and when to pull it.

A reference is ``[registry/]path[:tag][@digest]``. The first path component is a registry
only if it contains ``.`` or ``:``, is ``localhost``, or has an upper-case letter; otherwise
the image is on Docker Hub (``docker.io``), and a one-component Hub name lives under
``library/``. So ``python`` is ``docker.io/library/python:latest`` and ``myorg/app`` is
``docker.io/myorg/app:latest``: a Hub namespace is never mistaken for a registry.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.domain.agent.config import PullPolicy
from dockyard.domain.errors import InvalidImageReference, RunRefused

DOCKER_HUB = "docker.io"
# Hosts that all mean Docker Hub. Docker itself folds only index.docker.io; the registry's
# API host is folded too so an allow-list cannot be sidestepped through it.
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_ALNUM = r"[a-z0-9]+"
PATH_COMPONENT = re.compile(rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN = re.compile(rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_NAME_MAX = 255


@dataclass(frozen=True)
class ImageRef:
    domain: str  # as written (index.docker.io folded to docker.io)
    path: str  # "library/python"
    tag: str | None = None
    digest: str | None = None

    @property
    def registry(self) -> str:
        """The registry host for comparisons: lower-case, Docker Hub's names folded."""
        host = self.domain.lower()
        return DOCKER_HUB if host in HUB_ALIASES else host

    @property
    def name(self) -> str:
        """Normalised repository name, ``docker.io/library/python``."""
        return f"{self.registry}/{self.path}"

    @property
    def normalized(self) -> str:
        """``docker.io/library/python:latest``; a digest reference keeps its tag if any."""
        return self.name + _suffix(self.tag or (None if self.digest else "latest"), self.digest)

    @property
    def familiar(self) -> str:
        """The short form Docker prints: ``python:3.11``, ``myorg/app``, ``localhost:5000/x``."""
        if self.domain == DOCKER_HUB:
            short = self.path.removeprefix("library/") if self.path.count("/") == 1 else self.path
        else:
            short = f"{self.domain}/{self.path}"
        return short + _suffix(self.tag, self.digest)

    @property
    def reference(self) -> str:
        """The familiar form with ``:latest`` made explicit (as the container is created)."""
        return self.familiar if self.tag or self.digest else self.familiar + ":latest"

    @property
    def floating(self) -> bool:
        """``:latest`` or untagged, without a digest: the image behind it can change."""
        return self.digest is None and self.tag in (None, "latest")


def _suffix(tag: str | None, digest: str | None) -> str:
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def parse_image_reference(text: str) -> ImageRef:
    """Parse ``text`` by Docker's reference grammar; ``InvalidImageReference`` otherwise."""
    if not isinstance(text, str) or not text or text != text.strip() or any(c.isspace() for c in text):
        raise InvalidImageReference(f"invalid image reference {text!r}")
    name, _, digest = text.partition("@")
    if "@" in text and not _valid_digest(digest):
        raise InvalidImageReference(f"invalid digest in image reference {text!r}")
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidImageReference(f"invalid tag {tag!r} in image reference {text!r}")
    if len(name) > _NAME_MAX:
        raise InvalidImageReference(f"image reference {text!r} is longer than {_NAME_MAX} characters")
    domain, path = split_domain(name)
    if not DOMAIN.fullmatch(domain):
        raise InvalidImageReference(f"invalid registry {domain!r} in image reference {text!r}")
    if path != path.lower():
        raise InvalidImageReference(f"invalid image reference {text!r}: repository name must be lowercase")
    if not all(PATH_COMPONENT.fullmatch(part) for part in path.split("/")):
        raise InvalidImageReference(f"invalid repository name in image reference {text!r}")
    if domain.lower() == "index.docker.io":
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ImageRef(domain=domain, path=path, tag=tag, digest=digest or None)


def split_domain(name: str) -> tuple[str, str]:
    """``(registry, rest)`` by Docker's rule; Docker Hub when the first component is not a host."""
    first, slash, rest = name.partition("/")
    if not slash or (not any(c in first for c in ".:") and first != "localhost" and first == first.lower()):
        return DOCKER_HUB, name
    return first, rest


def _valid_digest(digest: str) -> bool:
    if not _DIGEST.fullmatch(digest):
        return False
    algorithm, _, hex_part = digest.partition(":")
    expected = _DIGEST_LENGTHS.get(algorithm)
    return expected is None or len(hex_part) == expected


def select_image(core_version: str | None, storage: Mapping[str, Any] | None, run_image: str | None) -> str:
    """The image a run uses: Docker storage's image, else the run config's, else
    ``prefecthq/prefect:<core version without +local>`` (``:latest`` without one)."""
    if storage and storage.get("type") == "Docker":
        image_name, image_tag = storage.get("image_name"), storage.get("image_tag")
        if not isinstance(image_name, str) or not image_name or not isinstance(image_tag, str):
            raise RunRefused("the flow's Docker storage names no image (image_name and image_tag)")
        registry = storage.get("registry_url") or ""
        if not isinstance(registry, str):
            raise RunRefused("the flow's Docker storage has an invalid registry_url")
        repository = posixpath.normpath(posixpath.join(registry, image_name)) if registry else image_name
        return f"{repository}:{image_tag}"
    if run_image:
        return run_image
    version = (core_version or "").split("+")[0]
    return f"prefecthq/prefect:{version or 'latest'}"


def effective_pull_policy(ref: ImageRef, policy: PullPolicy | None) -> PullPolicy:
    """The policy that applies: the operator's, or always for floating references and
    if-not-present for pinned ones."""
    if policy is not None:
        return policy
    return PullPolicy.ALWAYS if ref.floating else PullPolicy.IF_NOT_PRESENT


def pulls_first(ref: ImageRef, policy: PullPolicy | None) -> bool:
    """Pull before creating, present or not: policy "always" — except for a digest, which
    names exactly one image for good."""
    return effective_pull_policy(ref, policy) is PullPolicy.ALWAYS and ref.digest is None


def may_pull(ref: ImageRef, policy: PullPolicy | None) -> bool:
    """Pull an image the daemon turns out not to have (every policy but "never")."""
    return effective_pull_policy(ref, policy) is not PullPolicy.NEVER
