"""The WooCommerce sandbox over real HTTP: routes, paging, filters, types, errors, faults."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest

from exactsync.clock import FakeClock
from exactsync.sandbox.server import serve
from exactsync.sandbox.woocommerce import create_app, generate_scenario

DATA = Path(__file__).parent / "data" / "woocommerce_small.json"
SCENARIO = json.loads(DATA.read_text(encoding="utf-8"))
KEY = (SCENARIO["keys"][0]["consumer_key"], SCENARIO["keys"][0]["consumer_secret"])
HTTPS = {"x-forwarded-proto": "https"}  # the sandbox's stand-in for TLS (docs/sandbox-woocommerce.md)


@pytest.fixture(scope="module")
def server():
    app = create_app(copy.deepcopy(SCENARIO))
    srv = serve(app)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx2.Client(base_url=server.url, auth=KEY, headers=HTTPS) as c:
        yield c


def orders(client, **params):
    r = client.get("/wp-json/wc/v3/orders", params=params)
    assert r.status_code == 200, r.text
    return r


def test_pagination_headers_links_and_past_the_end(server):
    app = create_app(generate_scenario(25, seed=3))
    srv = serve(app)
    try:
        with httpx2.Client(base_url=srv.url, headers=HTTPS, auth=(app.keys[0].consumer_key, app.keys[0].consumer_secret)) as c:
            r = c.get("/wp-json/wc/v3/orders", params={"per_page": 10, "status": "any", "page": 2, "orderby": "id"})
            assert r.headers["x-wp-total"] == "25" and r.headers["x-wp-totalpages"] == "3"
            link = r.headers["link"]
            assert 'rel="prev"' in link and 'rel="next"' in link and "first" not in link and "last" not in link
            assert "status=any" in link and "orderby=id" in link and "page=3" in link and "page=1" in link
            assert len(r.json()) == 10
            first = c.get("/wp-json/wc/v3/orders", params={"per_page": 10, "status": "any"})
            assert 'rel="prev"' not in first.headers["link"]
            last = c.get("/wp-json/wc/v3/orders", params={"per_page": 10, "status": "any", "page": 3})
            assert len(last.json()) == 5 and 'rel="next"' not in last.headers["link"]
            beyond = c.get("/wp-json/wc/v3/orders", params={"per_page": 10, "status": "any", "page": 9})
            assert beyond.status_code == 200 and beyond.json() == [] and beyond.headers["x-wp-total"] == "25"
            default = c.get("/wp-json/wc/v3/orders", params={"status": "any"})
            assert len(default.json()) == 10  # default per_page
            off = c.get("/wp-json/wc/v3/orders", params={"per_page": 5, "offset": 3, "orderby": "id", "order": "asc", "status": "any"})
            assert [o["id"] for o in off.json()] == [1003, 1004, 1005, 1006, 1007]
    finally:
        srv.stop()


def test_invalid_parameters_and_unknown_routes(client):
    r = client.get("/wp-json/wc/v3/orders", params={"per_page": 101})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "rest_invalid_param" and body["message"] == "Invalid parameter(s): per_page"
    assert body["data"]["params"]["per_page"] == "per_page must be between 1 (inclusive) and 100 (inclusive)"
    assert client.get("/wp-json/wc/v3/orders", params={"per_page": 0}).status_code == 400
    bad = client.get("/wp-json/wc/v3/orders", params={"after": "yesterday", "status": "shipped", "orderby": "total"}).json()
    assert set(bad["data"]["params"]) == {"after", "status", "orderby"}
    nr = client.get("/wp-json/wc/v3/ordersx")
    assert nr.status_code == 404 and nr.json()["code"] == "rest_no_route"
    assert client.delete("/wp-json/wc/v3/taxes/classes").json()["code"] == "rest_no_route"
    nf = client.get("/wp-json/wc/v3/orders/999999")
    assert nf.status_code == 404 and nf.json() == {
        "code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}
    assert client.get("/wp-json/wc/v3/orders/999999/refunds").json()["code"] == "woocommerce_rest_invalid_order_id"


def test_status_filter_any_excludes_trash_and_include(client):
    ids = [o["id"] for o in orders(client, per_page=100, status="any").json()]
    assert 109 in ids and len(ids) == 10
    done = orders(client, per_page=100, status="completed,processing", _fields="id,status").json()
    assert all(set(o) == {"id", "status"} for o in done)
    assert {o["status"] for o in done} == {"completed", "processing"}
    inc = orders(client, include="101,104", orderby="id", order="asc").json()
    assert [o["id"] for o in inc] == [101, 104]
    assert [o["id"] for o in orders(client, **{"status[]": "refunded"}).json()] == [108]


def test_dates_local_vs_gmt_around_dst_and_strict_after(client):
    # Order 102 was created 2025-06-30 22:30 UTC = 2025-07-01 00:30 in Amsterdam (CEST).
    o = client.get("/wp-json/wc/v3/orders/102").json()
    assert o["date_created_gmt"] == "2025-06-30T22:30:00" and o["date_created"] == "2025-07-01T00:30:00"
    # Order 101: 2025-03-30 00:30 UTC is 01:30 CET, half an hour before the DST switch.
    assert client.get("/wp-json/wc/v3/orders/101").json()["date_created"] == "2025-03-30T01:30:00"
    gmt = orders(client, after="2025-06-30T22:00:00", before="2025-07-01T00:00:00", dates_are_gmt="true", status="any").json()
    local = orders(client, after="2025-06-30T22:00:00", before="2025-07-01T00:00:00", status="any").json()
    assert [x["id"] for x in gmt] == [102] and local == []
    strict = orders(client, after="2025-06-30T22:30:00", before="2025-07-02T00:00:00", dates_are_gmt="true").json()
    assert strict == []  # after is exclusive
    mod = orders(client, modified_after="2025-07-08T09:00:00", dates_are_gmt="true", status="any", orderby="modified", order="asc", per_page=100)
    assert [x["id"] for x in mod.json()] == [108, 109, 110, 107]  # 108/107 bumped by refunds; 108 and 109 tie → id


def test_order_types_money_taxes_and_meta(client):
    o = client.get("/wp-json/wc/v3/orders/101").json()
    assert o["total"] == "52.05" and o["total_tax"] == "7.05" and o["shipping_tax"] == "1.05" and o["cart_tax"] == "6.00"
    item = o["line_items"][0]
    assert item["tax_class"] == "" and isinstance(item["price"], float) and item["price"] == 10.0
    assert item["taxes"] == [{"id": 1, "total": "4.2", "subtotal": "4.2"}]
    tl = {t["rate_id"]: t for t in o["tax_lines"]}
    assert tl[1]["rate_code"] == "NL-BTW-1" and tl[1]["rate_percent"] == 21 and tl[1]["shipping_tax_total"] == "1.05"
    assert o["shipping_lines"][0]["taxes"] == [{"id": 1, "total": "1.05"}]
    assert o["date_paid"] is not None and o["refunds"] == []
    dp4 = client.get("/wp-json/wc/v3/orders/105", params={"dp": 4}).json()
    assert dp4["line_items"][0]["total"] == "0.8182" and dp4["total"] == "2.9700"
    assert client.get("/wp-json/wc/v3/orders/105", params={"dp": 0}).json()["total"] == "3"
    b2b = client.get("/wp-json/wc/v3/orders/103").json()
    meta = {m["key"]: m["value"] for m in b2b["meta_data"]}
    assert meta == {"_billing_vat_number": "BE0123456789", "is_vat_exempt": "yes"}
    assert b2b["tax_lines"] == [] and b2b["total_tax"] == "0.00"
    usd = client.get("/wp-json/wc/v3/orders/104").json()
    assert usd["currency"] == "USD" and usd["total"] == "22.00"
    c = client.get("/wp-json/wc/v3/orders/106").json()
    assert c["coupon_lines"][0]["discount"] == "5.00" and c["discount_total"] == "5.00"
    assert c["fee_lines"][0]["total"] == "-2.00" and c["total"] == "52.03"
    taxes = client.get("/wp-json/wc/v3/taxes", params={"per_page": 100}).json()
    assert taxes[0]["rate"] == "21.0000" and taxes[0]["class"] == "standard"
    assert {c["slug"] for c in client.get("/wp-json/wc/v3/taxes/classes").json()} >= {"standard", "reduced-rate"}


def test_refund_shapes_and_full_refund_status(client):
    o = client.get("/wp-json/wc/v3/orders/107").json()
    assert [r["total"] for r in o["refunds"]] == ["-10.00", "-36.30"]  # newest first, negative
    refunds = client.get("/wp-json/wc/v3/orders/107/refunds").json()
    itemised = next(r for r in refunds if r["id"] == 9107)
    assert itemised["amount"] == "36.30" and "parent_id" not in itemised
    li = itemised["line_items"][0]
    assert li["quantity"] == -1 and li["total"] == "-30.00" and li["taxes"][0]["total"] == "-6.3"
    assert li["meta_data"][0]["key"] == "_refunded_item_id" and li["meta_data"][0]["value"] == str(o["line_items"][0]["id"])
    assert next(r for r in refunds if r["id"] == 9108)["line_items"] == []
    one = client.get("/wp-json/wc/v3/orders/107/refunds/9108").json()
    assert one["amount"] == "10.00"
    assert client.get("/wp-json/wc/v3/orders/108").json()["status"] == "refunded"
    assert client.get("/wp-json/wc/v3/orders/107").json()["status"] == "completed"
    all_refunds = client.get("/wp-json/wc/v3/refunds", params={"orderby": "date", "order": "asc"}).json()
    assert [(r["id"], r["parent_id"]) for r in all_refunds] == [(9109, 108), (9107, 107), (9108, 107)]


def test_writes_meta_upsert_refund_post_and_batch_limit(server):
    app = create_app(copy.deepcopy(SCENARIO), clock=FakeClock(1_760_000_000))
    srv = serve(app)
    try:
        with httpx2.Client(base_url=srv.url, auth=KEY, headers=HTTPS) as c:
            before = c.get("/wp-json/wc/v3/orders/101").json()["date_modified_gmt"]
            r = c.put("/wp-json/wc/v3/orders/101", json={"meta_data": [{"key": "_exact_sync", "value": "booked"}]})
            assert r.status_code == 200
            assert {"key": "_exact_sync", "value": "booked"}.items() <= r.json()["meta_data"][-1].items()
            assert r.json()["date_modified_gmt"] > before
            assert c.put("/wp-json/wc/v3/orders/999", json={}).status_code == 400
            neg = c.post("/wp-json/wc/v3/orders/102/refunds", json={"amount": "-1"})
            assert neg.status_code == 400 and neg.json()["code"] == "woocommerce_rest_invalid_order_refund"
            made = c.post("/wp-json/wc/v3/orders/102/refunds", json={"amount": "65.45", "reason": "x"})
            assert made.status_code == 201 and made.json()["refunded_payment"] is False
            assert c.get("/wp-json/wc/v3/orders/102").json()["status"] == "refunded"
            big = c.post("/wp-json/wc/v3/orders/batch", json={"update": [{"id": i} for i in range(101)]})
            assert big.status_code == 413 and big.json()["code"] == "woocommerce_rest_request_entity_too_large"
        ro = SCENARIO["keys"][1]
        with httpx2.Client(base_url=srv.url, auth=(ro["consumer_key"], ro["consumer_secret"]), headers=HTTPS) as c:
            assert c.get("/wp-json/wc/v3/orders/101").status_code == 200
            w = c.put("/wp-json/wc/v3/orders/101", json={"meta_data": []})
            assert w.status_code == 401
            assert w.json()["message"] == "The API key provided does not have write permissions."
    finally:
        srv.stop()


def test_fault_injection_html_errors():
    sc = copy.deepcopy(SCENARIO)
    sc["faults"] = {"error_rate": 1.0, "error_statuses": [503], "retry_after": 2, "seed": 1}
    app = create_app(sc)
    with httpx2.Client(transport=app.transport(), base_url="http://shop.test", auth=KEY, headers=HTTPS) as c:
        r = c.get("/wp-json/wc/v3/orders")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html") and r.headers["retry-after"] == "2"
    assert r.text.startswith("<!DOCTYPE html>")


def test_store_decimals_zero():
    sc = copy.deepcopy(SCENARIO)
    sc["store"]["decimals"] = 0
    app = create_app(sc)
    with httpx2.Client(transport=app.transport(), base_url="http://shop.test", auth=KEY, headers=HTTPS) as c:
        o = c.get("/wp-json/wc/v3/orders/101").json()
    assert o["total"] == "52" and o["line_items"][0]["total"] == "20" and o["line_items"][0]["taxes"][0]["total"] == "4.2"
    assert Decimal(o["total_tax"]) == 7
