"""Filter pickers: the organisation's categories and merchants, searched case-insensitively."""

from __future__ import annotations

from sqlalchemy import text


class TestCategories:
    def test_lists_own_categories_most_used_first(self, client, auth_headers, engine):
        response = client.get("/api/v1/categories", headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 200
        items = response.json()
        with engine.connect() as conn:
            expected = conn.execute(
                text(
                    "SELECT category, count(*) FROM transactions t JOIN organizations o "
                    "ON o.id = t.org_id AND o.slug = 'acme-retail' GROUP BY 1"
                )
            ).all()
        assert {(i["category"], i["transaction_count"]) for i in items} == set(expected)
        counts = [i["transaction_count"] for i in items]
        assert counts == sorted(counts, reverse=True)


class TestMerchants:
    def test_search_is_case_insensitive_and_scoped(self, client, auth_headers, engine):
        with engine.connect() as conn:
            acme_names = set(
                conn.execute(
                    text(
                        "SELECT m.name FROM merchants m JOIN organizations o ON o.id = m.org_id "
                        "AND o.slug = 'acme-retail'"
                    )
                ).scalars()
            )
        headers = auth_headers("viewer@acme.example")
        everything = client.get("/api/v1/merchants", params={"limit": 100}, headers=headers)
        assert everything.json()["total"] == len(acme_names) == 60
        assert {m["name"] for m in everything.json()["items"]} == acme_names
        needle = sorted(acme_names)[0][:4]
        found = client.get("/api/v1/merchants", params={"q": needle.upper()}, headers=headers)
        expected = {n for n in acme_names if needle.lower() in n.lower()}
        assert {m["name"] for m in found.json()["items"]} == expected
        globex = client.get(
            "/api/v1/merchants",
            params={"limit": 100},
            headers=auth_headers("analyst@globex.example"),
        )
        assert not acme_names & {m["name"] for m in globex.json()["items"]}
