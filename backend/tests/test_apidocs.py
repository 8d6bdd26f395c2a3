"""The API docs work offline: /docs and /redoc load every script, stylesheet and icon from the API
itself (a package's files), none from a CDN."""

from __future__ import annotations

import re

import pytest

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_reference_only_same_origin_assets_that_load(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    urls = [a or b for a, b in ASSET.findall(html)]
    assert urls, "the page references its assets"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url


def test_swagger_ui_does_not_call_the_public_validator(client):
    assert '"validatorUrl": null' in client.get("/docs").text
