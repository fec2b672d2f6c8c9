"""The API's documentation pages in a real browser: Swagger UI at /docs and ReDoc at /redoc
render the relayer's OpenAPI from files served by the relayer itself, under their
Content-Security-Policy, with no request to any other origin (no CDN) and no CSP violation."""

import pytest
from playwright.sync_api import expect

from fixtures.browser import DESKTOP, SCREENSHOTS


@pytest.fixture
def docs_page(browser, relayer_service):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: message.type == "error" and problems.append(message.text),
    )
    yield page, requests, problems, relayer_service.url
    context.close()


def assert_own_origin_only(requests, problems, origin):
    assert requests
    foreign = [url for url in requests if not url.startswith((origin, "blob:", "data:"))]
    assert foreign == [], foreign
    violations = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    assert violations == [], violations
    assert problems == [], problems


def test_swagger_ui_renders_every_route_offline(docs_page):
    page, requests, problems, origin = docs_page
    page.goto(origin + "/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Data union relayer")
    expect(page.locator(".opblock-summary-path", has_text="/v1/epochs/close")).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/v1/contributions").first
    ).to_be_visible()
    assert_own_origin_only(requests, problems, origin)
    assert origin + "/openapi.json" in requests
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "api-docs-swagger.png")


def test_redoc_renders_the_reference_offline(docs_page):
    page, requests, problems, origin = docs_page
    page.goto(origin + "/redoc")

    expect(page.locator("h1", has_text="Data union relayer")).to_be_visible()
    expect(page.get_by_text("Every epoch, newest first").first).to_be_attached()
    assert_own_origin_only(requests, problems, origin)
    assert origin + "/openapi.json" in requests
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "api-docs-redoc.png")
