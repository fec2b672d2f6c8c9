"""Errors below the routes — an unknown route or method, a request the HTTP parser refuses, a body
too large, malformed JSON, a path that does not decode — answer in the API's one JSON error
shape from the real server (uvicorn as `relayer serve` runs it), never in plain text. And a node
that is down or does not answer makes the routes that need it answer 503, never 500."""

import contextlib
import json
import socket
import threading

import pytest
from web3 import Web3

from fixtures.api import assert_error
from fixtures.relayer import free_port

RAW_REQUESTS = {
    "garbage request line": b"GARBAGE\r\n\r\n",
    "header without a colon": b"GET /v1/union HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    "content-length not a number": (
        b"POST /v1/contributions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
    ),
    "two content-lengths": (
        b"POST /v1/contributions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}"
    ),
    "bad chunked body": (
        b"POST /v1/contributions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n"
    ),
    "NUL in the request line": b"GET /v1/un\x00ion HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown route": b"GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown method on a route": b"PATCH /v1/union HTTP/1.1\r\nHost: x\r\n\r\n",
    "OPTIONS": b"OPTIONS /v1/union HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid UTF-8 in the path": b"GET /v1/members/%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n",
    "NUL in a path parameter": b"GET /v1/licenses/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid UTF-8 in the query": (
        b"GET /v1/estimate?data_type=%ff&records_per_month=1&quality=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    "epoch number past uint64": b"GET /v1/epochs/" + b"9" * 40 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "malformed JSON": (
        b"POST /v1/licenses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 9\r\n\r\n{not json"
    ),
    "JSON with a lone surrogate escape": (
        b"POST /v1/contributions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 35\r\n\r\n{"contributions": [{"m": "\\ud800"}]}'
    ),
    "chunked body over the size limit": (
        b"POST /v1/contributions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n"
        + b"".join(b"4000\r\n" + b" " * 0x4000 + b"\r\n" for _ in range(80))
        + b"0\r\n\r\n"
    ),
}


def exchange(service, raw, timeout=10):
    """Send raw bytes, read the whole answer (the server closes or says how long it is)."""
    host, port = service.server.config.host, service.server.config.port
    with socket.create_connection((host, port), timeout=timeout) as conn:
        # Refused mid-body: the answer is already on its way.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(raw)
        data = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if length and len(body) >= length[0]:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("label", sorted(RAW_REQUESTS))
def test_an_error_below_the_routes_answers_in_the_json_error_shape(served, label):
    status, headers, body = exchange(served, RAW_REQUESTS[label])

    assert 400 <= status < 500, (status, body[:200])
    assert headers["content-type"] == "application/json", (label, headers, body[:200])
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"]
    assert error["message"]


class Silent:
    """A TCP server that accepts connections and never answers: a node that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.held.append(self.sock.accept()[0])
            except TimeoutError:
                continue

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.sock.close()


def point_at(context, url, timeout=1):
    """Send every later chain call of `context` to `url`."""
    context.chain.w3.provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout})


NODE_ROUTES = [
    ("GET", "/v1/members/{alice}"),
    ("GET", "/v1/members/{alice}/statement?year=2026"),
    ("POST", "/v1/epochs/close"),
    ("GET", "/v1/estimate?data_type=health&records_per_month=10&quality=1"),
    ("POST", "/v1/contributions"),
]


@pytest.mark.parametrize("node", ["down", "silent"])
def test_a_node_that_is_down_or_silent_makes_routes_answer_503(
    api, context, operator_headers, alice, node
):
    silent = Silent() if node == "silent" else None
    free = free_port()
    point_at(context, f"http://127.0.0.1:{silent.port if silent else free}/rpc?key=sentinel")
    try:
        for method, path in NODE_ROUTES:
            body = None
            if path == "/v1/contributions":
                body = {
                    "contributions": [
                        {
                            "member": alice.address,
                            "data_type": "health",
                            "records": 1,
                            "quality": 1,
                            "uniqueness": 0,
                            "content_hash": "0x" + "ab" * 32,
                        }
                    ]
                }
            response = api.request(
                method, path.format(alice=alice.address), headers=operator_headers, json=body
            )
            error = assert_error(response, 503, "node_unavailable")
            assert "sentinel" not in response.text
            assert "did not answer" in error["message"]
    finally:
        if silent is not None:
            silent.close()
