"""Transactions: list with filters, read, create, update, delete."""
