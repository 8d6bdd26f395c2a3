"""Lookup lists for filters: the organisation's categories and merchants."""
