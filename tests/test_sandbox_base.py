"""The sandbox core: one handler, two adapters (in-process and real HTTP), dropped responses."""

from __future__ import annotations

import httpx2
import pytest

from exactsync.sandbox.base import SandboxApp, SandboxResponse, json_response
from exactsync.sandbox.server import serve


class Echo(SandboxApp):
    name = "echo"

    def __init__(self):
        super().__init__()
        self.committed = 0

    def handle(self, request):
        if request.path == "/commit":
            with self.lock:
                self.committed += 1
            return SandboxResponse(201, b"{}", {"content-type": "application/json"}, drop=request.arg("drop") == "1")
        return json_response({"path": request.path, "query": request.query, "url": request.url,
                              "auth": request.headers.get("authorization"), "body": request.body.decode()})


def test_real_http_and_in_process_see_the_same_request():
    app = Echo()
    with serve(app) as server:
        with httpx2.Client(base_url=server.url, timeout=5) as client:
            real = client.post("/x/y?a=1&a=2&b=%20z", content=b"hi", headers={"Authorization": "Bearer t"}).json()
    with httpx2.Client(transport=app.transport(), base_url="http://sandbox") as client:
        local = client.post("/x/y?a=1&a=2&b=%20z", content=b"hi", headers={"Authorization": "Bearer t"}).json()
    for result in (real, local):
        assert result["path"] == "/x/y"
        assert result["query"] == [["a", "1"], ["a", "2"], ["b", " z"]]
        assert result["auth"] == "Bearer t" and result["body"] == "hi"
    assert real["url"].startswith(server.url + "/x/y?")


def test_dropped_response_commits_but_client_never_hears():
    app = Echo()
    with serve(app) as server, httpx2.Client(base_url=server.url, timeout=5) as client:
        with pytest.raises(httpx2.TransportError):
            client.post("/commit?drop=1")
        assert client.post("/commit").status_code == 201
    assert app.committed == 2
    with httpx2.Client(transport=app.transport(), base_url="http://sandbox") as client:
        with pytest.raises(httpx2.ReadTimeout):
            client.post("/commit?drop=1")
    assert app.committed == 3


def test_a_taken_port_raises_and_leaks_no_socket():
    """The demo falls back to any free port when a default one is taken (another dashboard, a
    browser test's server): the failed attempt must not leave an open socket behind."""
    import gc
    import socket
    import warnings

    from exactsync.sandbox.server import ServerThread

    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            with pytest.raises(OSError):
                ServerThread(Echo(), "127.0.0.1", holder.getsockname()[1])
            gc.collect()  # an unclosed socket would warn here
    finally:
        holder.close()
