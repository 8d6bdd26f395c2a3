"""Shared helpers used by several domains."""
