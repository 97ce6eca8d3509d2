"""What every sandbox is built on: a framework-free request/response core with two adapters.

A sandbox subclasses :class:`SandboxApp` and implements :meth:`SandboxApp.handle`. It is then
usable two ways with the same behaviour:

* in-process: ``httpx2.Client(transport=app.transport(), base_url=app.base_url)``
* over real HTTP: ``serve(app)`` from :mod:`exactsync.sandbox.server` (uvicorn on 127.0.0.1),
  which speaks to :meth:`SandboxApp.asgi`.

The adapters never import httpx (only httpx2), so clients under test are never mixed.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2

from exactsync.clock import SYSTEM_CLOCK, Clock

__all__ = ["SandboxRequest", "SandboxResponse", "SandboxApp", "json_response"]


@dataclass
class SandboxRequest:
    method: str
    path: str  # decoded path, no query string
    query: list[tuple[str, str]]  # decoded, in order, repeats kept
    headers: dict[str, str]  # lower-cased names
    body: bytes
    scheme: str = "http"
    host: str = "127.0.0.1"
    raw_query: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return default

    def args(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def url(self) -> str:
        q = f"?{self.raw_query}" if self.raw_query else ""
        return f"{self.base_url}{self.path}{q}"

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class SandboxResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Fault injection: the sandbox has done the work but the client never hears back.
    drop: bool = False


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> SandboxResponse:
    h = {"content-type": "application/json; charset=utf-8"}
    if headers:
        h.update(headers)
    return SandboxResponse(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), h)


class _DroppedResponse(Exception):
    """Raised inside the ASGI adapter to cut a connection on purpose."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DroppedResponse)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class SandboxApp:
    """Base class. Subclasses implement ``handle``; ``lock`` serialises state changes."""

    name = "sandbox"

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.lock = threading.RLock()
        self.base_url = "http://sandbox.local"

    # --- to implement -------------------------------------------------------------------------
    def handle(self, request: SandboxRequest) -> SandboxResponse:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- in-process adapter -------------------------------------------------------------------
    def transport(self) -> httpx2.BaseTransport:
        app = self

        class _Transport(httpx2.BaseTransport):
            def handle_request(self, request: httpx2.Request) -> httpx2.Response:
                split = urlsplit(str(request.url))
                req = SandboxRequest(
                    method=request.method,
                    path=request.url.path,
                    query=parse_qsl(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=request.read(),
                    scheme=split.scheme,
                    host=split.netloc,
                    raw_query=split.query,
                )
                resp = app.handle(req)
                if resp.drop:
                    raise httpx2.ReadTimeout("sandbox dropped the response", request=request)
                return httpx2.Response(resp.status, headers=resp.headers, content=resp.body, request=request)

        return _Transport()

    # --- ASGI adapter -------------------------------------------------------------------------
    async def asgi(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # pragma: no cover - websockets are not served
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw_query = scope.get("query_string", b"").decode("latin-1")
        req = SandboxRequest(
            method=scope["method"],
            path=scope["path"],
            query=parse_qsl(raw_query, keep_blank_values=True),
            headers=headers,
            body=body,
            scheme=scope.get("scheme", "http"),
            host=headers.get("host", "127.0.0.1"),
            raw_query=raw_query,
        )
        import anyio.to_thread

        resp = await anyio.to_thread.run_sync(self.handle, req)
        if resp.drop:
            # The work is done but the answer never arrives: announce a body, then cut the
            # connection. The client sees a protocol error and cannot know what happened.
            await send(
                {
                    "type": "http.response.start",
                    "status": resp.status,
                    "headers": [(b"content-length", b"1048576"), (b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise _DroppedResponse("response dropped by fault injection")
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": resp.body})
