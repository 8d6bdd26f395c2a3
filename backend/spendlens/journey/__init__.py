"""The customer journey: lifecycle stages derived from events, point in time, funnel and flows."""
