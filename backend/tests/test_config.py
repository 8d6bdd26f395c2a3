"""Settings: the example secret is refused outside local/test, DSNs are normalised."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spendlens.config import EXAMPLE_SECRET_KEY, Settings, normalize_database_url


def test_example_secret_refused_in_production():
    with pytest.raises(ValidationError, match="example default"):
        Settings(env="production", secret_key=EXAMPLE_SECRET_KEY)


def test_short_secret_refused_in_production():
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", secret_key="short")


def test_real_secret_accepted_in_production():
    settings = Settings(env="production", secret_key="x" * 40)
    assert settings.secret_key == "x" * 40


def test_example_secret_allowed_locally():
    assert Settings(env="local", secret_key=EXAMPLE_SECRET_KEY).env == "local"


def test_database_url_from_plain_database_url_env(monkeypatch):
    monkeypatch.delenv("SPENDLENS_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/x")
    assert Settings().sqlalchemy_url == "postgresql+psycopg2://u:p@db:5432/x"


@pytest.mark.parametrize(
    "given,expected",
    [
        ("postgresql://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("postgres://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
    ],
)
def test_normalize_database_url(given, expected):
    assert normalize_database_url(given) == expected
