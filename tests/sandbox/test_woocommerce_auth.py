"""WC_REST_Authentication in the sandbox: Basic only over HTTPS, OAuth 1.0a over plain HTTP."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth1Auth

from exactsync.clock import FakeClock
from exactsync.sandbox.server import serve
from exactsync.sandbox.woocommerce import create_app, oauth_base_string

SCENARIO = json.loads((Path(__file__).parent / "data" / "woocommerce_small.json").read_text(encoding="utf-8"))
CK, CS = SCENARIO["keys"][0]["consumer_key"], SCENARIO["keys"][0]["consumer_secret"]
HTTPS = {"x-forwarded-proto": "https"}
ORDERS = "/wp-json/wc/v3/orders"


@pytest.fixture(scope="module")
def url():
    # The sandbox clock follows real time here because Authlib stamps requests with time.time().
    srv = serve(create_app(copy.deepcopy(SCENARIO)))
    yield srv.url
    srv.stop()


def test_basic_over_plain_http_is_anonymous(url):
    r = httpx2.get(url + ORDERS, auth=(CK, CS))
    assert r.status_code == 401
    assert r.json() == {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                        "data": {"status": 401}}
    # query-string keys are ignored over http too
    assert httpx2.get(url + ORDERS, params={"consumer_key": CK, "consumer_secret": CS}).status_code == 401
    assert httpx2.get(url + ORDERS).json()["code"] == "woocommerce_rest_cannot_view"


def test_basic_and_query_string_over_https(url):
    assert httpx2.get(url + ORDERS, auth=(CK, CS), headers=HTTPS).status_code == 200
    r = httpx2.get(url + ORDERS, params={"consumer_key": CK, "consumer_secret": CS, "per_page": 1}, headers=HTTPS)
    assert r.status_code == 200
    assert "consumer_secret=" in r.headers["link"]  # WC repeats every original parameter in Link
    wrong = httpx2.get(url + ORDERS, auth=(CK, "cs_" + "0" * 40), headers=HTTPS)
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "woocommerce_rest_authentication_error"
    assert wrong.json()["message"] == "Consumer secret is invalid."
    assert wrong.headers["www-authenticate"].startswith('Basic realm="WooCommerce API.')
    unknown = httpx2.get(url + ORDERS, auth=("ck_" + "1" * 40, CS), headers=HTTPS)
    assert unknown.status_code == 401 and unknown.json()["code"] == "woocommerce_rest_cannot_view"


def test_oauth1_with_authlib_over_http(url):
    for method, where in (("HMAC-SHA1", "HEADER"), ("HMAC-SHA1", "QUERY")):
        auth = OAuth1Auth(CK, CS, signature_method=method, signature_type=where)
        r = httpx2.get(url + ORDERS, params={"status": "completed", "per_page": 2}, auth=auth)
        assert r.status_code == 200, r.text
        assert len(r.json()) == 2
    bad = OAuth1Auth(CK, "cs_" + "f" * 40)
    r = httpx2.get(url + ORDERS, auth=bad)
    assert r.status_code == 401 and r.json()["message"] == "Invalid signature - provided signature does not match."


def _signed(url: str, secret: str, *, ts: int, nonce: str, method: str = "HMAC-SHA256", **extra) -> dict:
    import base64
    import hashlib
    import hmac

    params = {"oauth_consumer_key": CK, "oauth_timestamp": str(ts), "oauth_nonce": nonce,
              "oauth_signature_method": method, **extra}
    base = oauth_base_string("GET", url, list(params.items()))
    algo = hashlib.sha256 if method == "HMAC-SHA256" else hashlib.sha1
    params["oauth_signature"] = base64.b64encode(hmac.new(f"{secret}&".encode(), base.encode(), algo).digest()).decode()
    return params


def test_oauth_timestamp_nonce_and_missing_parameters():
    clock = FakeClock(1_760_000_000)
    app = create_app(copy.deepcopy(SCENARIO), clock=clock)
    with httpx2.Client(transport=app.transport(), base_url="http://shop.test") as c:
        target = "http://shop.test" + ORDERS
        ok = _signed(target, CS, ts=1_760_000_000, nonce="n1", per_page="1")
        assert c.get(ORDERS, params=ok).status_code == 200
        again = c.get(ORDERS, params=ok)
        assert again.status_code == 401 and again.json()["message"] == "Invalid nonce - nonce has already been used."
        stale = c.get(ORDERS, params=_signed(target, CS, ts=1_760_000_000 - 16 * 60, nonce="n2"))
        assert stale.json()["message"] == "Invalid timestamp."
        partial = c.get(ORDERS, params={"oauth_consumer_key": CK, "oauth_nonce": "x"})
        assert partial.status_code == 401
        assert partial.json()["code"] == "woocommerce_rest_authentication_missing_parameter"
        assert partial.json()["message"] == ("Missing OAuth parameters oauth_timestamp, oauth_signature, "
                                             "oauth_signature_method")
        unknown = _signed(target, CS, ts=1_760_000_000, nonce="n3")
        unknown["oauth_consumer_key"] = "ck_" + "2" * 40
        assert c.get(ORDERS, params=unknown).json()["message"] == "Consumer key is invalid."
        method = _signed(target, CS, ts=1_760_000_000, nonce="n4", method="PLAINTEXT")
        assert c.get(ORDERS, params=method).json()["message"] == "Invalid signature - signature method is invalid."
        # the signed URL is the one the server sees: signing for another host fails
        other = _signed("http://elsewhere.test" + ORDERS, CS, ts=1_760_000_000, nonce="n5")
        assert c.get(ORDERS, params=other).json()["message"] == "Invalid signature - provided signature does not match."
        sha1 = _signed(target, CS, ts=1_760_000_000, nonce="n6", method="HMAC-SHA1")
        assert c.get(ORDERS, params=sha1).status_code == 200
        ro = SCENARIO["keys"][1]
        assert c.put(ORDERS + "/101", auth=(ro["consumer_key"], ro["consumer_secret"]), headers=HTTPS,
                     json={}).json()["message"] == "The API key provided does not have write permissions."
