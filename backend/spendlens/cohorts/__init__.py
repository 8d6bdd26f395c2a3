"""Cohort retention: customers grouped by the period of their first purchase, followed period by
period."""
