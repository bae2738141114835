"""``/docs`` and ``/redoc`` work offline: every script and style they load is served here."""

from __future__ import annotations

import re

import httpx
import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "cdn.jsdelivr.net" not in html
    assert "fonts.googleapis.com" not in html
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
    assets = [u for u in urls if u.endswith((".js", ".css", ".png"))]
    assert assets, html
    for url in assets:
        assert url.startswith("/"), url  # this server, not another host
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url


async def test_an_unknown_asset_is_not_found_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/assets/../../etc/passwd")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
