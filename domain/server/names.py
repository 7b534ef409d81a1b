"""Readable names for flow runs created without one (``adjective-animal``), unique among
a tenant's runs.

There are 625 such names, so a tenant with many runs soon has most of them. A new run tries
a few random ones, and when all are taken it keeps the last with a suffix from its own id,
which no other run has: a name always names one run, and finding it takes a bounded number
of look-ups.
"""

from __future__ import annotations

import random
from collections.abc import Callable

NAME_ATTEMPTS = 10

_ADJECTIVES = (
    "amber",
    "brave",
    "calm",
    "daring",
    "eager",
    "fancy",
    "gentle",
    "happy",
    "icy",
    "jolly",
    "keen",
    "lively",
    "mellow",
    "nimble",
    "olive",
    "proud",
    "quick",
    "rapid",
    "sunny",
    "tidy",
    "upbeat",
    "vivid",
    "witty",
    "young",
    "zesty",
)
_ANIMALS = (
    "albatross",
    "beaver",
    "cheetah",
    "dolphin",
    "eagle",
    "falcon",
    "gecko",
    "heron",
    "ibis",
    "jaguar",
    "koala",
    "lemur",
    "marmot",
    "newt",
    "otter",
    "puffin",
    "quail",
    "raven",
    "seal",
    "tapir",
    "urchin",
    "vole",
    "walrus",
    "yak",
    "zebra",
)


def random_run_name(rng: random.Random | None = None) -> str:
    chooser = rng or random
    return f"{chooser.choice(_ADJECTIVES)}-{chooser.choice(_ANIMALS)}"


def unique_run_name(
    generate: Callable[[], str],
    taken: Callable[[str], bool],
    run_id: str,
    *,
    attempts: int = NAME_ATTEMPTS,
) -> str:
    """A generated name no run has yet: up to ``attempts`` from ``generate``, then the last
    with ``-<first 8 characters of run_id>``, then (if even that is taken: a name given by a
    user) with the whole id."""
    name = generate()
    for _ in range(attempts - 1):
        if not taken(name):
            return name
        name = generate()
    if not taken(name):
        return name
    suffixed = f"{name}-{run_id[:8]}"
    return suffixed if not taken(suffixed) else f"{name}-{run_id}"
