"""Entrypoints: the CLI, the composition root, settings, and the public library API."""
