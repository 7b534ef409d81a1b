"""The ports: small Protocols named for the role each outside system plays.

The domain's use cases depend only on these; adapters implement them; tests use fakes.
"""
