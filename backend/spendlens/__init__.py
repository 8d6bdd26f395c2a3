"""Spendlens: self-hosted customer-spending analytics API."""

__version__ = "0.1.0"
