"""Authentication: login, tokens, the current user and role checks."""
