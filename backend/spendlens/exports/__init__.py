"""Exports: the organisation's customers as CSV and the whole organisation as JSON, streamed."""
