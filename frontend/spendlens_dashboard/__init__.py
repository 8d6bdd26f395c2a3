"""Spendlens dashboard: a Panel app that explores an organisation's spending through the API."""

__version__ = "0.1.0"
