"""The relayer serves the member page: the union's facts embedded as data, a strict
Content-Security-Policy, the bundle under /assets, and a clear 503 when it was never built."""

import json
import os
import re
import subprocess
import time

import httpx
from fastapi.testclient import TestClient

from fixtures.api import assert_error
from fixtures.cli import RELAYER
from fixtures.postgres import free_loopback_port
from relayer.api.app import create_app
from relayer.api.docs import DOCS_CONTENT_SECURITY_POLICY
from relayer.api.page import CONTENT_SECURITY_POLICY, WEB_DIR, render
from relayer.union import TokenInfo, UnionInfo

CONFIG_BLOCK = re.compile(
    r'<script type="application/json" id="union-config">(.*?)</script>', re.DOTALL
)


def test_page_embeds_the_union_facts_the_api_serves(api):
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    [config] = CONFIG_BLOCK.findall(page.text)
    assert json.loads(config) == api.get("/v1/union").json()


def test_page_is_served_with_a_strict_content_security_policy(api):
    headers = api.get("/").headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"


def test_page_loads_only_bundled_assets_from_its_own_origin(api):
    page = api.get("/").text
    sources = re.findall(r'(?:src|href)="(/[^"]*)"', page)
    assert sources == ["/assets/app.css", "/assets/app.js"]
    for source in sources:
        asset = api.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 1000
    assert (
        api.get("/assets/app.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )


def test_unknown_or_escaping_asset_names_are_refused(api):
    assert_error(api.get("/assets/nothing.js"), 404, "not_found")
    assert_error(api.get("/assets/..%2F..%2Fapi%2Fpage.py"), 404, "not_found")
    assert_error(api.get("/assets/.hidden"), 422, "invalid_request")


def test_config_values_cannot_close_the_data_block():
    token = TokenInfo(
        address="0x" + "11" * 20,
        name="</script><script>alert(1)</script>",
        symbol="&",
        decimals=6,
        permit=None,
    )
    info = UnionInfo(chain_id=1, union="0x" + "22" * 20, token=token, data_types=["health"])
    page = render("<script>__UNION_CONFIG__</script>", info)
    assert page.count("</script>") == 1
    embedded = page.removeprefix("<script>").removesuffix("</script>")
    assert json.loads(embedded) == json.loads(info.model_dump_json())


def test_page_answers_503_with_the_fix_when_the_bundle_was_never_built(context, tmp_path):
    (tmp_path / "index.html").write_text((WEB_DIR / "index.html").read_text())
    with TestClient(create_app(context, web_dir=tmp_path)) as client:
        page = client.get("/")
        assert page.status_code == 503
        assert "make web" in page.text
        assert client.get("/v1/union").status_code == 200  # the API itself is unaffected


def test_api_docs_pages_load_only_files_served_from_the_package(api):
    for path in ("/docs", "/redoc"):
        page = api.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
        sources = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        assert sources, path
        assert all(source.startswith("/docs-assets/") for source in sources), sources
        assert "<script>" not in page.text  # no inline script: the policy would refuse it
        for source in sources:
            asset = api.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 100, source
    assert "script-src 'self';" in DOCS_CONTENT_SECURITY_POLICY
    assert "http" not in DOCS_CONTENT_SECURITY_POLICY  # no other origin, no CDN
    assert_error(api.get("/docs-assets/app.py"), 404, "not_found")
    assert_error(api.get("/docs-assets/..%2Fdocs.py"), 404, "not_found")


def test_relayer_page_serves_the_page_alone_with_no_union_facts_and_the_same_policy(tmp_path):
    port = free_loopback_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYER_")}
    server = subprocess.Popen(
        [str(RELAYER), "page", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(base + "/")
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "relayer page did not start"
                time.sleep(0.1)
        assert page.status_code == 200
        [config] = CONFIG_BLOCK.findall(page.text)
        assert json.loads(config) is None  # the page then starts from a published report
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        bundle = httpx.get(base + "/assets/app.js")
        assert bundle.status_code == 200
        assert bundle.content == (WEB_DIR / "dist" / "app.js").read_bytes()
        assert httpx.get(base + "/assets/..%2Fjs%2Fmain.js").status_code == 404
        assert httpx.get(base + "/v1/union").status_code == 404  # no API: no relayer
    finally:
        server.terminate()
        server.wait(timeout=10)
