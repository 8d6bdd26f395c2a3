"""Alerts: rules per organisation over customers' health, churn probability and spend, the alerts
they raise (one per problem), and their delivery by webhook and email with retries."""
