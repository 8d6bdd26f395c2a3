"""Customers: list with search, filters and spending totals; profile with monthly spend; writes."""
