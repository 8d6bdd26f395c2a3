"""An import refuses what the database and the API refuse, in the API's words: text one character
over a column's length, a lifecycle stage or kind that does not exist, an amount whose sign does
not fit its kind; and it accepts everything up to those limits."""

from __future__ import annotations

import pytest

from spendlens.models.rules import (
    CATEGORY_LENGTH,
    EXTERNAL_ID_LENGTH,
    NAME_LENGTH,
    LifecycleStage,
    TransactionKind,
)

from tests.builders import create_customer, create_org, create_user, headers_for
from tests.imports.helpers import upload


@pytest.fixture
def shop(session):
    org = create_org(session)
    return org, headers_for(create_user(session, org, role="analyst"))


def problems(client, headers, content: str, kind: str) -> list[tuple[int, str, str]]:
    body = upload(client, headers, content, kind=kind, dry_run=True).json()
    return [(p["row"], p["column"], p["reason"]) for p in body["errors"]]


class TestCustomerRules:
    def test_text_up_to_the_column_length_passes_and_one_more_character_fails(self, client, shop):
        _, headers = shop
        fits_id, long_id = "i" * EXTERNAL_ID_LENGTH, "j" * (EXTERNAL_ID_LENGTH + 1)
        fits_name, long_name = "n" * NAME_LENGTH, "m" * (NAME_LENGTH + 1)
        content = (
            "external_id,name\n" f"{fits_id},{fits_name}\n" f"{long_id},Ann\n" f"c3,{long_name}\n"
        )
        assert problems(client, headers, content, "customers") == [
            (2, "external_id", f"longer than {EXTERNAL_ID_LENGTH} characters"),
            (3, "name", f"longer than {NAME_LENGTH} characters"),
        ]

    def test_every_lifecycle_stage_and_no_other(self, client, shop):
        _, headers = shop
        rows = [f"c{i},{stage.value.upper()}" for i, stage in enumerate(LifecycleStage)]
        content = "external_id,lifecycle_stage\n" + "\n".join(rows + ["c9,vip"]) + "\n"
        stages = ", ".join(stage.value for stage in LifecycleStage)
        assert problems(client, headers, content, "customers") == [
            (len(rows) + 1, "lifecycle_stage", f"not one of {stages}")
        ]


class TestTransactionRules:
    HEADER = "occurred_at,customer_external_id,category,amount,kind\n"

    def test_the_sign_must_fit_the_kind_as_in_the_api(self, client, session, shop):
        org, headers = shop
        content = self.HEADER + (
            "2026-01-05T10:00:00Z,c1,Books,12.00,purchase\n"
            "2026-01-05T10:00:00Z,c1,Books,-12.00,refund\n"
            "2026-01-05T10:00:00Z,c1,Books,-12.00,purchase\n"
            "2026-01-05T10:00:00Z,c1,Books,12.00,refund\n"
            "2026-01-05T10:00:00Z,c1,Books,12.00,gift\n"
        )
        kinds = " or ".join(kind.value for kind in TransactionKind)
        found = problems(client, headers, content, "transactions")
        assert found == [
            (3, "amount", "a purchase needs a positive amount"),
            (4, "amount", "a refund needs a negative amount"),
            (5, "kind", f"not {kinds}"),
        ]
        # The API refuses the same rows with the same reasons.
        customer = create_customer(session, org)
        for kind, amount, (_, _, reason) in (
            ("purchase", "-12.00", found[0]),
            ("refund", "12.00", found[1]),
        ):
            body = {
                "customer_id": customer.id,
                "occurred_at": "2026-01-05T10:00:00Z",
                "amount": amount,
                "category": "Books",
                "kind": kind,
            }
            response = client.post("/api/v1/transactions", json=body, headers=headers)
            assert response.status_code == 422
            assert reason in response.json()["detail"][0]["msg"]

    def test_a_category_one_character_over_the_column_fails(self, client, shop):
        _, headers = shop
        content = self.HEADER + (
            f"2026-01-05T10:00:00Z,c1,{'a' * CATEGORY_LENGTH},12.00,purchase\n"
            f"2026-01-05T10:00:00Z,c1,{'b' * (CATEGORY_LENGTH + 1)},12.00,purchase\n"
        )
        assert problems(client, headers, content, "transactions") == [
            (2, "category", f"longer than {CATEGORY_LENGTH} characters")
        ]
