"""Exact sandbox webhooks: subscriptions, signed notifications, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

from exactsync.sandbox.base import SandboxApp, SandboxResponse
from exactsync.sandbox.exact import create_app
from exactsync.sandbox.server import serve

DIV = 123456
SUBS = f"/api/v1/{DIV}/webhooks/WebhookSubscriptions"


class Receiver(SandboxApp):
    name = "receiver"

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__()
        self.bodies: list[bytes] = []
        self.fail_first = fail_first

    def handle(self, request):
        with self.lock:
            self.bodies.append(request.body)
            if request.body and self.fail_first > 0:
                self.fail_first -= 1
                return SandboxResponse(500, b"")
        return SandboxResponse(200, b"")


def _wait(pred, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_subscription_notification_signature_and_retries(exact_scenario, exact_clock, exact_make_client):
    exact_scenario["webhooks"] = {"retry_base_seconds": 0.05}
    app = create_app(exact_scenario, clock=exact_clock)
    receiver = Receiver(fail_first=2)  # the first two notification attempts fail
    rs, es = serve(receiver), serve(app)
    try:
        c = exact_make_client(app, es.url)
        url = rs.url + "/exact/webhook"
        r = c.post(SUBS, json={"CallbackURL": url, "Topic": "SalesEntries"}, headers={"Prefer": "return=representation"})
        assert r.status_code == 201
        assert c.post(SUBS, json={"CallbackURL": url, "Topic": "SalesEntries"}).status_code == 500  # duplicate topic
        assert c.put(f"{SUBS}(guid'{r.json()['d']['ID']}')", json={}).status_code == 405
        entry = c.get(f"/api/v1/{DIV}/salesentry/SalesEntries",
                      params={"$filter": "YourRef eq 'WC-1002'", "$select": "EntryID"}).json()["d"]["results"][0]
        assert c.put(f"/api/v1/{DIV}/salesentry/SalesEntries(guid'{entry['EntryID']}')",
                     json={"Description": "x"}).status_code == 204
        _wait(lambda: any(d["ok"] and d["topic"] == "SalesEntries" for d in app.webhooks.deliveries()))
        raw = next(b for b in receiver.bodies if b).decode()
        content = re.fullmatch(r'\{"Content":(\{.*\}),"HashCode":"([0-9A-F]{64})"\}', raw)
        assert content, raw
        expected = hmac.new(app.settings.webhook_secret.encode(), content.group(1).encode(), hashlib.sha256)
        assert content.group(2) == expected.hexdigest().upper()
        body = json.loads(raw)["Content"]
        assert body["Topic"] == "SalesEntries" and body["Action"] == "Update" and body["Division"] == DIV
        assert body["Key"] == entry["EntryID"]
        assert body["ExactOnlineEndpoint"] == f"{es.url}/api/v1/{DIV}/salesentry/SalesEntries(guid'{entry['EntryID']}')"
        attempts = [d for d in app.webhooks.deliveries() if d["topic"] == "SalesEntries"]
        assert [d["ok"] for d in attempts] == [False, False, True]
        assert receiver.bodies[0] == b""  # the ping after subscribing
    finally:
        es.stop()
        rs.stop()
