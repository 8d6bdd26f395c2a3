"""Fixtures of the journey tests: an organisation of their own with a user of each role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from spendlens.models import Organization
from tests.builders import create_org, create_user, headers_for


@dataclass
class JourneyOrg:
    org: Organization
    admin: dict[str, str]
    analyst: dict[str, str]
    viewer: dict[str, str]

    @property
    def id(self) -> int:
        return self.org.id


def make_org(session) -> JourneyOrg:
    org = create_org(session)
    return JourneyOrg(
        org,
        headers_for(create_user(session, org, role="admin")),
        headers_for(create_user(session, org, role="analyst")),
        headers_for(create_user(session, org, role="viewer")),
    )


@pytest.fixture
def shop(session) -> JourneyOrg:
    return make_org(session)


@pytest.fixture
def other_shop(session) -> JourneyOrg:
    return make_org(session)
