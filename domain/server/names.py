"""Readable names for flow runs created without one (``adjective-animal``)."""

from __future__ import annotations

import random

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
