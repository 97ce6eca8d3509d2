"""Webhooks of the Exact sandbox (exact-online-api.md §7, §11.30).

Notifications carry ``{"Content":{…},"HashCode":"<HMAC>"}`` where HashCode is the upper-case hex
HMAC-SHA256 of the raw Content JSON (braces included) keyed with the app's webhook secret. They
are posted by a background thread outside the app lock; a non-2xx answer or a connection error
is retried up to 10 times after ``retry_base_seconds × 2^n`` (a compressed form of Exact's
schedule). ``deliver_due(force=True)`` drains the queue synchronously for tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2

__all__ = ["WebhookDispatcher", "sign", "MAX_RETRIES"]

MAX_RETRIES = 10


def sign(content_json: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), content_json.encode("utf-8"), hashlib.sha256).hexdigest().upper()


@dataclass
class _Delivery:
    url: str
    body: bytes
    topic: str
    key: str | None
    due: float
    attempt: int = 0
    history: list[int | str] = field(default_factory=list)


class WebhookDispatcher:
    def __init__(self, secret: str, retry_base_seconds: float = 1.0, auto: bool = True,
                 transport: httpx2.BaseTransport | None = None) -> None:
        self.secret = secret
        self.retry_base = retry_base_seconds
        self.auto = auto
        self.transport = transport
        self.queue: list[_Delivery] = []
        self.log: list[dict] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # --- producing -------------------------------------------------------------------------
    def notify(self, url: str, topic: str, client_id: str, division: int, action: str, key: str,
               endpoint: str, created_on: str, copies: int = 1) -> None:
        content = json.dumps({
            "Topic": topic, "ClientId": client_id, "Division": division, "Action": action, "Key": key,
            "ExactOnlineEndpoint": endpoint, "EventCreatedOn": created_on,
        }, separators=(",", ":"))
        body = ('{"Content":' + content + ',"HashCode":"' + sign(content, self.secret) + '"}').encode("utf-8")
        for _ in range(copies):
            self._put(_Delivery(url, body, topic, key, time.monotonic()))

    def ping(self, url: str) -> None:
        """The empty POST Exact sends right after a subscription is created [2nd]."""
        self._put(_Delivery(url, b"", "", None, time.monotonic()))

    def _put(self, d: _Delivery) -> None:
        with self._cond:
            self.queue.append(d)
            self._cond.notify()
            if self.auto and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="exact-sandbox-webhooks", daemon=True)
                self._thread.start()

    # --- delivering ------------------------------------------------------------------------
    def _take_due(self, force: bool) -> list[_Delivery]:
        now = time.monotonic()
        due = [d for d in self.queue if force or d.due <= now]
        self.queue = [d for d in self.queue if d not in due]
        return due

    def deliver_due(self, force: bool = False) -> int:
        """Post what is due now (everything with ``force``); returns the number of posts made."""
        with self._cond:
            due = self._take_due(force)
        for d in due:
            self._post(d)
        return len(due)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self.queue:
                    self._cond.wait(timeout=5)
                wait = min(d.due for d in self.queue) - time.monotonic()
                if wait > 0:
                    self._cond.wait(timeout=min(wait, 5))
                    continue
                due = self._take_due(False)
            for d in due:
                self._post(d)

    def _post(self, d: _Delivery) -> None:
        d.attempt += 1
        try:
            with httpx2.Client(timeout=5, transport=self.transport) as c:
                status: int | str = c.post(d.url, content=d.body, headers={"content-type": "application/json"}).status_code
        except httpx2.HTTPError as exc:
            status = type(exc).__name__
        d.history.append(status)
        ok = isinstance(status, int) and 200 <= status < 300
        with self._cond:
            self.log.append({"url": d.url, "topic": d.topic, "key": d.key, "attempt": d.attempt, "status": status,
                             "ok": ok})
            if not ok and d.attempt <= MAX_RETRIES:
                d.due = time.monotonic() + self.retry_base * 2 ** (d.attempt - 1)
                self.queue.append(d)
                self._cond.notify()

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(x) for x in self.log]
