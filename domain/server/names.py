"""Readable names for flow runs created without one (``adjective-animal``), unique among
a tenant's runs.

There are 625 such names, so a tenant with many runs soon has most of them. A new run draws
ten and takes the first not in use, and when all are it keeps one with a suffix from its own
id: a name always names one run, and finding it takes one look-up (two once the names run
out), as the scheduler creates thousands of runs in a pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

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
    taken: Callable[[Sequence[str]], set[str]],
    run_id: str,
    *,
    attempts: int = NAME_ATTEMPTS,
) -> str:
    """A generated name no run has yet. ``taken`` answers, in one look-up, which of the
    names it is given are in use: first ``attempts`` names from ``generate``, then (all
    taken) the last of them with ``-<first 8 characters of run_id>``, and if even that is
    in use (a name someone gave a run) with the whole id, which no other run has."""
    candidates = list(dict.fromkeys(generate() for _ in range(attempts)))
    used = taken(candidates)
    for name in candidates:
        if name not in used:
            return name
    suffixed = f"{candidates[-1]}-{run_id[:8]}"
    return suffixed if not taken([suffixed]) else f"{candidates[-1]}-{run_id}"
