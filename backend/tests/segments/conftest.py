"""Fixtures of the RFM API tests: Acme's data read plainly, and a viewer's headers."""

from __future__ import annotations

import pytest

from tests.segments import reference


@pytest.fixture(scope="module")
def acme_ref(engine) -> reference.Org:
    with engine.connect() as conn:
        return reference.read_org_by_slug(conn, "acme-retail")


@pytest.fixture
def viewer(auth_headers):
    return auth_headers("viewer@acme.example")
