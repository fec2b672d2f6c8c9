"""The HTTP server's own answers in the API's error shape.

uvicorn answers a request it cannot parse (a malformed request line or header, a bad chunked
body) itself, before the application sees it, with a plain-text 400. `JsonErrorsProtocol` is
uvicorn's httptools protocol with that one answer in the JSON error shape, so a client gets the
same `{"error": {"code", "message", "details"}}` from the server as from the routes.
"""

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MALFORMED = json.dumps(
    {
        "error": {
            "code": "malformed_http",
            "message": "the request is not valid HTTP/1.1",
            "details": None,
        }
    }
).encode()


class JsonErrorsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(MALFORMED)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                MALFORMED,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
