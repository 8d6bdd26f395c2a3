"""The password policy for every new password (signup, invitation, admin-made users, changes):
long enough, not too long, and not guessable by zxcvbn's estimate (common passwords, keyboard
patterns, repeats, dates and the person's own name or email all score low)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from zxcvbn import zxcvbn

from spendlens.auth.security import MAX_PASSWORD_LENGTH
from spendlens.errors import Unprocessable

MIN_PASSWORD_LENGTH = 8
# zxcvbn refuses longer input (its run time grows quickly with length); a password this long
# that is still guessable scores low on its first 72 characters too.
_SCORED_PREFIX = 72


def check_new_password(
    password: str,
    *,
    min_score: int,
    user_inputs: Iterable[str | None] = (),
    loc: tuple[str, ...] = ("body", "password"),
) -> None:
    """Unprocessable (422) with a sentence saying why, unless the password may be used."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable(f"Use at least {MIN_PASSWORD_LENGTH} characters", loc=loc)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Unprocessable(f"Use at most {MAX_PASSWORD_LENGTH} characters", loc=loc)
    words = ["spendlens"]
    for text in user_inputs:
        # The email's parts and the name's words each count as something a guesser would try.
        words.extend(w for w in re.split(r"[^\w]+", (text or "").lower()) if len(w) >= 3)
    verdict = zxcvbn(password[:_SCORED_PREFIX], user_inputs=words)
    if verdict["score"] < min_score:
        feedback = verdict["feedback"]
        hints = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
        message = "This password is too easy to guess"
        raise Unprocessable(f"{message}. {hints}".strip() if hints else message, loc=loc)
