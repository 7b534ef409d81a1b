"""Shared test helpers: fakes for the ports, and fixtures for real Docker resources."""
