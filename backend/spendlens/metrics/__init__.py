"""Spending metrics: summary with period-over-period change, gapless time series, breakdowns."""
