"""The API documents itself truthfully at /openapi.json: typed responses, the one error shape,
request bodies that refuse unknown fields; and the routes behave as documented for the operator
token and for requests that match no route."""

import pytest
from eth_utils import keccak

from fixtures.api import assert_error, contribution

ERROR_REF = "#/components/schemas/ErrorResponse"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(spec, schema):
    """The component a `$ref` schema points at, or the schema itself."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return spec["components"]["schemas"][ref.removeprefix("#/components/schemas/")]


def objects_in(spec, schema, seen=None):
    """Every object schema reachable from `schema` (through $ref, anyOf, arrays, properties)."""
    seen = set() if seen is None else seen
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:
            return
        seen.add(ref)
    schema = resolve(spec, schema)
    if schema.get("type") == "object" or "properties" in schema:
        yield schema
    children = [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]
    children += list(schema.get("properties", {}).values())
    if "items" in schema:
        children.append(schema["items"])
    for child in children:
        yield from objects_in(spec, child, seen)


def test_every_operation_documents_a_typed_success_and_the_error_shape(spec):
    seen = []
    for path, method, operation in operations(spec):
        name = f"{method.upper()} {path}"
        seen.append(name)
        responses = operation["responses"]
        success = sorted(status for status in responses if status.startswith("2"))
        # A gasless claim is 202 when relayed and 200 when it is the record of one relayed before.
        assert len(success) == 1 or (name, success) == ("POST /v1/claims", ["200", "202"]), name
        for status in success:
            content = responses[status]["content"]
            if path == "/v1/epochs/{number}/report":
                assert list(content) == ["application/json"], name  # the canonical bytes
            else:
                schema = content["application/json"]["schema"]
                assert schema.get("$ref") or len(schema) > 0, name
                assert resolve(spec, schema).get("properties"), name
        errors = {status: r for status, r in responses.items() if status.startswith("4")}
        assert {"404", "422"} <= set(errors), name
        for status, documented in errors.items():
            schema = documented["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (name, status)
    assert len(seen) >= 12  # every router is in the document
    error = spec["components"]["schemas"]["ErrorResponse"]
    assert resolve(spec, error["properties"]["error"])["required"] == ["code", "message"]


def test_every_request_body_refuses_unknown_fields(spec):
    bodies = 0
    for path, method, operation in operations(spec):
        if "requestBody" not in operation:
            continue
        bodies += 1
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        objects = list(objects_in(spec, schema))
        assert objects, f"{method.upper()} {path}"
        for model in objects:
            assert model.get("additionalProperties") is False, (path, model.get("title"))
    assert bodies >= 4  # contributions, data deletion, claims, licenses


def test_operator_routes_refuse_a_request_without_the_token(api, context, alice):
    license_offer = {
        "id": "health-2026",
        "title": "Health records",
        "terms_hash": "0x" + keccak(text="terms").hex(),
        "price": 1_000_000,
    }
    for path, body in (
        ("/v1/epochs/close", None),
        ("/v1/epochs/1/post", None),
        ("/v1/licenses", license_offer),
    ):
        assert_error(api.post(path, json=body), 401, "unauthorized")
    assert api.get("/v1/licenses").json() == {"licenses": []}
    assert api.get("/v1/epochs").json() == {"epochs": []}

    # Contributions take the token or the member's own signature: unsigned without it is 403.
    unsigned = contribution(alice, "openapi", records=1)
    response = api.post("/v1/contributions", json={"contributions": [unsigned]})
    assert_error(response, 403, "forbidden")


def test_unknown_route_and_wrong_method_answer_in_the_one_error_shape(api):
    for path in ("/v1/nothing-here", "/v2/epochs", "/index.php"):
        assert_error(api.get(path), 404, "not_found")
    wrong = api.put("/v1/claims", json={})
    assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"
    wrong = api.delete("/v1/epochs")
    assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "GET"
