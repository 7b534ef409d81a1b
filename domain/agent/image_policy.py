"""Which images an operator lets runs use: ``reg_allow_list`` and ``allow_images``.

Both are checked on the normalised reference before every container create, whether the
image is pulled or already on the daemon, so a cached image is no way around them.

``reg_allow_list`` entries name a registry host (``myregistry.io``, ``localhost:5000``;
Docker Hub by any of its names) or, when the first component is not a host, a Docker Hub
namespace (``myorg`` means ``docker.io/myorg/...``); a registry may carry a path prefix
(``localhost:5000/team``). Matching is on whole components, host case-insensitive:
``myregistry.io`` never matches ``myregistry.io.evil.com``, ``myorg`` never ``myorgevil/x``.

``allow_images`` patterns are normalised like references and matched GitLab-style: ``*``
within one component, ``**`` across components. A pattern without a tag or digest matches
the repository with any tag or digest (``docker.io/library/*``); one with a tag matches that
tag (``*:1.2`` is any official image at 1.2); one with a digest matches that digest. A
pattern that starts with ``**`` matches any registry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.domain.agent.config import RegistryCredentials
from dockyard.domain.agent.images import (
    DOCKER_HUB,
    DOMAIN,
    HUB_ALIASES,
    PATH_COMPONENT,
    ImageRef,
    parse_image_reference,
    split_domain,
)
from dockyard.domain.errors import ConfigurationError, RunRefused


@dataclass(frozen=True)
class RegistryScope:
    """One ``reg_allow_list`` entry, read: a registry and a path prefix within it."""

    registry: str
    prefix: tuple[str, ...] = ()
    entry: str = ""  # as the operator wrote it

    def covers(self, ref: ImageRef) -> bool:
        parts = tuple(ref.path.split("/"))
        return ref.registry == self.registry and parts[: len(self.prefix)] == self.prefix


def normalize_registry_host(host: str) -> str:
    """A registry host for comparisons: scheme and path dropped, lower-case, Hub folded."""
    host = host.strip().split("://", 1)[-1].split("/", 1)[0].lower()
    return DOCKER_HUB if host in HUB_ALIASES else host


def parse_registry_entry(entry: str) -> RegistryScope:
    """One ``reg_allow_list`` entry; ``ConfigurationError`` if it names nothing valid."""
    text = entry.strip().split("://", 1)[-1].rstrip("/")
    first, slash, rest = text.partition("/")
    if any(c in first for c in ".:") or first.lower() == "localhost":
        registry, parts = first.lower(), rest.split("/") if slash else []
    else:
        registry, parts = DOCKER_HUB, text.split("/")
    if not text or not DOMAIN.fullmatch(registry) or not all(PATH_COMPONENT.fullmatch(p) for p in parts):
        raise ConfigurationError(
            f"reg_allow_list entry {entry!r} is neither a registry host (myregistry.io, "
            "localhost:5000) nor a Docker Hub namespace (myorg)"
        )
    return RegistryScope(DOCKER_HUB if registry in HUB_ALIASES else registry, tuple(parts), entry)


@dataclass(frozen=True)
class ImagePattern:
    text: str
    regex: re.Pattern[str]
    kind: str  # "name", "tag" or "digest": which form of a reference it is matched against

    def matches(self, ref: ImageRef) -> bool:
        if self.kind == "name":
            subject: str | None = ref.name
        elif self.kind == "tag":
            tag = ref.tag or (None if ref.digest else "latest")
            subject = f"{ref.name}:{tag}" if tag else None
        else:
            subject = f"{ref.name}@{ref.digest}" if ref.digest else None
        return subject is not None and self.regex.fullmatch(subject) is not None


_PATTERN_CHARS = re.compile(r"[A-Za-z0-9._\-/:@*\[\]+]+")


def parse_image_pattern(text: str) -> ImagePattern:
    """One ``allow_images`` pattern; ``ConfigurationError`` if it cannot match a reference."""
    pattern = text.strip()
    if not pattern or not _PATTERN_CHARS.fullmatch(pattern) or "***" in pattern:
        raise ConfigurationError(f"allow_images pattern {text!r} is not an image pattern")
    name, at, digest = pattern.partition("@")
    tag = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
    if not name or (at and not digest) or (tag is not None and not tag):
        raise ConfigurationError(f"allow_images pattern {text!r} is not an image pattern")
    if name != "**" and not name.startswith("**/"):
        domain, path = split_domain(name)
        domain = normalize_registry_host(domain)
        if domain == DOCKER_HUB and "/" not in path and "**" not in path:
            path = f"library/{path}"
        name = f"{domain}/{path}"
    kind = "digest" if at else "tag" if tag is not None else "name"
    full = name + (f"@{digest}" if at else f":{tag}" if tag is not None else "")
    return ImagePattern(text=text, regex=re.compile(_glob(full)), kind=kind)


def _glob(pattern: str) -> str:
    out = []
    for piece in re.split(r"(\*\*|\*)", pattern):
        out.append(".*" if piece == "**" else "[^/]*" if piece == "*" else re.escape(piece))
    return "".join(out)


def check_image_allowed(
    ref: ImageRef, reg_allow_list: Sequence[RegistryScope], allow_images: Sequence[ImagePattern]
) -> None:
    """``RunRefused`` unless both lists (where set) allow ``ref``; the message names the
    image, its normalised reference and the setting that would allow it."""
    if reg_allow_list and not any(scope.covers(ref) for scope in reg_allow_list):
        where = f"Docker Hub namespace '{ref.path.split('/')[0]}'" if ref.registry == DOCKER_HUB else ""
        suggestion = (
            ("docker.io/library" if ref.path.startswith("library/") else ref.path.split("/")[0])
            if ref.registry == DOCKER_HUB
            else ref.registry
        )
        raise RunRefused(
            f"Image '{ref.familiar}' ({ref.normalized}) is from registry '{ref.registry}'"
            + (f", {where}" if where else "")
            + f", which is not in the reg_allow_list ({', '.join(s.entry for s in reg_allow_list)}); "
            f"allow it with --reg-allow-list {suggestion}"
        )
    if allow_images and not any(pattern.matches(ref) for pattern in allow_images):
        raise RunRefused(
            f"Image '{ref.familiar}' ({ref.normalized}) matches no allow_images pattern "
            f"({', '.join(p.text for p in allow_images)}); allow it with --allow-image {ref.name}"
        )


def credentials_for(image: str, known: Sequence[RegistryCredentials]) -> RegistryCredentials | None:
    """The operator-given login for the image's registry, if any (else the daemon host's
    own Docker config applies)."""
    registry = parse_image_reference(image).registry
    for credentials in known:
        if normalize_registry_host(credentials.registry) == registry:
            return credentials
    return None
