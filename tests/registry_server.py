"""A Schema Registry's REST endpoints, served on loopback for the tests (no registry server
installs here), so the client library under test is the real one.

`GET /schemas/ids/{id}`, `GET /subjects/{subject}/versions/latest`, `POST /subjects/{subject}`
(look a schema up) and `POST /subjects/{subject}/versions` (register), with the registry's error
bodies; `down()` closes the port (clients get "connection refused") and `up()` opens it again.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOT_FOUND = {"error_code": 40403, "message": "Schema not found"}
SUBJECT_NOT_FOUND = {"error_code": 40401, "message": "Subject not found"}


class RegistryServer:
    """In-memory schemas by id and subject; every request's method and path is kept in `requests`."""

    def __init__(self, port: int = 0) -> None:
        self.schemas: dict[int, dict[str, Any]] = {}
        """id -> {"schema": ..., "schemaType": ...} as registered."""
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str]] = []
        self.failing_with: int | None = None
        """When set, every request is answered with this HTTP status (a registry in trouble)."""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        """The schema's id (the same schema under any subject keeps one id)."""
        wanted = {"schema": schema, "schemaType": schema_type}
        with self._lock:
            known = [i for i, s in self.schemas.items() if s == wanted]
            schema_id = known[0] if known else len(self.schemas) + 1
            self.schemas[schema_id] = wanted
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id

    # -- lifecycle --------------------------------------------------------------------------

    def up(self) -> None:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                registry.requests.append(("GET", self.path))
                if registry.failing_with is not None:
                    self._answer(registry.failing_with, {"error_code": registry.failing_with, "message": "trouble"})
                    return
                self._answer(*registry._get(self.path.split("?")[0]))

            def do_POST(self) -> None:
                registry.requests.append(("POST", self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self._answer(*registry._post(self.path.split("?")[0], body))

            def _answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="registry", daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> RegistryServer:
        self.up()
        return self

    def __exit__(self, *_: object) -> None:
        self.down()

    # -- routes -----------------------------------------------------------------------------

    def _described(self, schema_id: int, subject: str | None = None) -> dict[str, Any]:
        known = self.schemas[schema_id]
        out: dict[str, Any] = {"id": schema_id, "schema": known["schema"]}
        if known["schemaType"] != "AVRO":
            out["schemaType"] = known["schemaType"]
        if subject is not None:
            out |= {"subject": subject, "version": self.subjects[subject].index(schema_id) + 1}
        return out

    def _get(self, path: str) -> tuple[int, object]:
        if m := re.fullmatch(r"/schemas/ids/(\d+)", path):
            schema_id = int(m.group(1))
            if schema_id not in self.schemas:
                return 404, NOT_FOUND
            described = self._described(schema_id)
            described.pop("id")
            return 200, described
        if m := re.fullmatch(r"/subjects/([^/]+)/versions/latest", path):
            versions = self.subjects.get(m.group(1))
            if not versions:
                return 404, SUBJECT_NOT_FOUND
            return 200, self._described(versions[-1], m.group(1))
        return 404, {"error_code": 404, "message": f"no route {path}"}

    def _post(self, path: str, body: dict[str, Any]) -> tuple[int, object]:
        schema_type = body.get("schemaType") or "AVRO"
        if m := re.fullmatch(r"/subjects/([^/]+)/versions", path):
            return 200, {"id": self.register(m.group(1), body["schema"], schema_type)}
        if m := re.fullmatch(r"/subjects/([^/]+)", path):
            subject = m.group(1)
            for schema_id in self.subjects.get(subject, []):
                if self.schemas[schema_id] == {"schema": body["schema"], "schemaType": schema_type}:
                    return 200, self._described(schema_id, subject)
            return 404, NOT_FOUND
        return 404, {"error_code": 404, "message": f"no route {path}"}
