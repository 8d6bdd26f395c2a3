"""Admins manage the users of their own organisation."""
