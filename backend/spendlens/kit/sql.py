"""Small SQL helpers shared by the domains."""

from __future__ import annotations


def contains_pattern(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, with LIKE wildcards in it taken literally.

    Use with `escape="\\\\"` (one backslash).
    """
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
