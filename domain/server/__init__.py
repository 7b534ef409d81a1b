"""The embedded backend's rules: queue selection, state transitions, registration.

Pure decisions over rows a ``RunStore`` hands back; no SQL, no GraphQL, no HTTP.
"""
