"""pull_woocommerce against the WooCommerce sandbox over real HTTP, into a real DuckDB file."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from exactsync.clock import FakeClock
from exactsync.sandbox.server import serve
from exactsync.sandbox.woocommerce import create_app, generate_scenario
from exactsync.settings import Secret, ShopSettings
from exactsync.shops.woocommerce import WooApiError, WooAuthError, WooClient, pull_woocommerce
from exactsync.store import Store

DATA = Path(__file__).parents[1] / "sandbox" / "data" / "woocommerce_small.json"
SCENARIO = json.loads(DATA.read_text(encoding="utf-8"))
CK, CS = SCENARIO["keys"][0]["consumer_key"], SCENARIO["keys"][0]["consumer_secret"]
NOW = dt.datetime(2025, 8, 1, 12, 0, tzinfo=dt.timezone.utc)
D = Decimal


def settings(url: str, **kw) -> ShopSettings:
    s = ShopSettings(name="woo", kind="woocommerce", url=url, consumer_key=Secret(kw.pop("ck", CK)),
                     consumer_secret=Secret(kw.pop("cs", CS)))
    for k, v in kw.items():
        setattr(s, k, v)
    return s


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "woo.duckdb")


@pytest.fixture
def shop():
    """(app, url, clock): the small scenario served on loopback with a shared fake clock."""
    clock = FakeClock(NOW)
    app = create_app(copy.deepcopy(SCENARIO), clock=clock)
    srv = serve(app)
    yield app, srv.url, clock
    srv.stop()


def docs(store) -> dict[str, tuple]:
    rows = store.rows("SELECT doc_key, treatment, net, vat, gross FROM shop_documents ORDER BY doc_key")
    return {r[0]: tuple(r[1:]) for r in rows}


def test_full_pull_vat_treatments_and_exact_amounts(shop, store):
    app, url, clock = shop
    result = pull_woocommerce(store, settings(url), clock=clock)
    assert result.errors == 0 and result.documents == 12
    got = docs(store)
    assert got == {
        "woo:invoice:101": ("domestic", D("45.00"), D("7.05"), D("52.05")),
        "woo:invoice:102": ("oss", D("55.00"), D("10.45"), D("65.45")),
        "woo:invoice:103": ("reverse_charge", D("30.50"), D("0"), D("30.50")),
        "woo:invoice:104": ("export", D("22.00"), D("0"), D("22.00")),
        "woo:invoice:105": ("domestic", D("2.45"), D("0.52"), D("2.97")),
        "woo:invoice:106": ("domestic", D("43.00"), D("9.03"), D("52.03")),
        "woo:invoice:107": ("domestic", D("70.00"), D("13.50"), D("83.50")),
        "woo:invoice:108": ("domestic", D("40.00"), D("8.40"), D("48.40")),
        "woo:invoice:110": ("exempt", D("8.50"), D("0"), D("8.50")),
        "woo:credit_note:9107": ("domestic", D("-30.00"), D("-6.30"), D("-36.30")),
        "woo:credit_note:9108": ("domestic", D("-8.38"), D("-1.62"), D("-10.00")),
        "woo:credit_note:9109": ("domestic", D("-40.00"), D("-8.40"), D("-48.40")),
    }
    lines = store.rows("SELECT doc_key, line_type, tax_class, country, rate, treatment, base, vat FROM shop_vat_lines "
                       "ORDER BY doc_key, line_no")
    by_doc: dict[str, list] = {}
    for r in lines:
        by_doc.setdefault(r[0], []).append(r[1:])
    assert by_doc["woo:invoice:101"] == [
        ("goods", "reduced-rate", "NL", D("9"), "domestic", D("20.00"), D("1.80")),
        ("goods", "standard", "NL", D("21"), "domestic", D("20.00"), D("4.20")),
        ("shipping", "standard", "NL", D("21"), "domestic", D("5.00"), D("1.05")),
    ]
    assert by_doc["woo:invoice:102"][0][:6] == ("goods", "standard", "DE", D("19"), "oss", D("50.00"))
    assert by_doc["woo:invoice:105"][-1] == ("adjustment", "standard", "NL", D("0"), "exempt", D("-0.01"), D("0"))
    assert by_doc["woo:invoice:106"] == [
        ("goods", "standard", "NL", D("21"), "domestic", D("45.00"), D("9.45")),
        ("fee", "standard", "NL", D("21"), "domestic", D("-2.00"), D("-0.42")),
    ]
    # amount-only refund: pro rata over the order's 21 % and 9 % lines by gross
    assert by_doc["woo:credit_note:9108"] == [
        ("goods", "reduced-rate", "NL", D("9"), "domestic", D("-1.20"), D("-0.11")),
        ("goods", "standard", "NL", D("21"), "domestic", D("-7.18"), D("-1.51")),
    ]
    meta = store.rows("SELECT doc_date, currency, base_currency, fx_rate, gross_base, vat_number, discount_net "
                      "FROM shop_documents WHERE doc_key IN ('woo:invoice:102', 'woo:invoice:104', 'woo:invoice:103', "
                      "'woo:invoice:106') ORDER BY doc_key")
    assert meta[0][0] == dt.date(2025, 7, 1)  # 22:30 UTC on 30 June is 1 July in Amsterdam
    assert meta[2][1:5] == ("USD", "EUR", None, None)  # no base amounts in Woo REST for foreign currency
    assert meta[1][5] == "BE0123456789" and meta[3][6] == D("5.00")
    warn = store.rows("SELECT record_key, message FROM sync_log WHERE level = 'warning'")
    assert warn == [("order 110", "order 110: no VAT charged to FR and no VAT number: check whether reverse charge applies")]
    # sales sign: every credit note negative, Σ lines = document
    bad = store.rows("""SELECT d.doc_key FROM shop_documents d JOIN shop_vat_lines l USING (doc_key)
                        GROUP BY d.doc_key, d.net, d.vat HAVING sum(l.base) <> d.net OR sum(l.vat) <> d.vat""")
    assert bad == []


def test_pagination_cost_is_one_list_call_per_hundred_orders(store):
    sc = generate_scenario(250, seed=5, refund_share=0.0)
    for o in sc["orders"]:
        o["status"] = "completed"
    app = create_app(sc)
    srv = serve(app)
    try:
        url = srv.url
        s = settings(url, ck=sc["keys"][0]["consumer_key"], cs=sc["keys"][0]["consumer_secret"], concurrency=3)
        seen = []
        result = pull_woocommerce(store, s, on_progress=lambda done, total, msg: seen.append((done, total, msg)))
    finally:
        srv.stop()
    assert result.documents == 250 and result.errors == 0
    paths = [p for (p,) in store.rows("SELECT path FROM api_calls WHERE path LIKE '/wp-json/wc/v3/orders%'")]
    assert len(paths) == math.ceil(250 / 100)
    assert all("per_page=100" in p for p in paths)
    assert store.scalar("SELECT count(*) FROM api_calls") == 3 + 2  # + taxes + refunds
    assert (250, 250, "orders") in seen


@pytest.mark.parametrize("concurrency", [1, 3])
def test_an_order_changed_while_the_orders_are_listed_skips_none(store, concurrency):
    """Pages are numbered over a list sorted by date_modified (A10): an order edited after page 1 was
    read moves to the end, the rest one place up, and the order at the page boundary was never read
    (the cursor then went past it: lost until a re-read from the start)."""
    sc = generate_scenario(250, seed=5, refund_share=0.0)
    for o in sc["orders"]:
        o["status"] = "completed"
    app = create_app(sc)
    ids = sorted(app.orders)
    first_page = sorted(ids, key=lambda i: (app.orders[i].modified, i))[:100]
    inner = app.transport()

    class EditAfterPageOne(httpx2.BaseTransport):
        edited = False

        def handle_request(self, request):
            response = inner.handle_request(request)
            q = parse_qs(request.url.query.decode())
            if request.url.path.endswith("/orders") and q.get("page") == ["1"] and not self.edited:
                self.edited = True
                app.touch(first_page[5])  # customer service edits an order already read
            return response

    s = settings("http://localhost", ck=sc["keys"][0]["consumer_key"], cs=sc["keys"][0]["consumer_secret"],
                 concurrency=concurrency)
    result = pull_woocommerce(store, s, transport=EditAfterPageOne())
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'invoice'") == 250
    assert result.errors == 0
    (msg,) = store.rows("SELECT message FROM sync_log WHERE message LIKE '%changed while the orders were listed%'")
    assert msg[0].startswith("1 order(s) changed while the orders were listed; orders listed again from ")
    again = [p for (p,) in store.rows("SELECT path FROM api_calls WHERE path LIKE '/wp-json/wc/v3/orders?%' "
                                      "ORDER BY call_id")][3:]
    assert again and all("modified_after=" in p for p in again)  # from where it happened, not the start


def test_a_plain_http_shop_off_this_machine_is_signed_with_oauth1(store):
    """WooCommerce takes OAuth 1.0a only over http (A1), and Authlib refused to sign for any http
    host but localhost ("OAuth 1 MUST utilize https"): such a shop could not be read at all."""
    app = create_app(copy.deepcopy(SCENARIO), clock=FakeClock(NOW))
    result = pull_woocommerce(store, settings("http://shop.staging.example"), transport=app.transport(),
                              clock=FakeClock(NOW))
    assert result.documents > 0 and result.errors == 0
    paths = [p for (p,) in store.rows("SELECT path FROM api_calls")]
    assert paths and all("oauth_signature_method=HMAC-SHA256" in p for p in paths)
    with pytest.raises(WooAuthError):  # the shop checks the signature: a wrong secret is refused
        pull_woocommerce(store, settings("http://shop.staging.example", cs="cs_wrong"), transport=app.transport(),
                         clock=FakeClock(NOW), full=True)


def _edited_after_page_one(app, ids, *, down_on_relist=False, edit=None):
    first_page = sorted(ids, key=lambda i: (app.orders[i].modified, i))[:100]
    inner = app.transport()

    class Transport(httpx2.BaseTransport):
        edited = False

        def handle_request(self, request):
            q = parse_qs(request.url.query.decode())
            if down_on_relist and self.edited and request.url.path.endswith("/orders") and "modified_after" in q:
                return httpx2.Response(503, json={"code": "down", "message": "down"}, request=request)
            response = inner.handle_request(request)
            if request.url.path.endswith("/orders") and q.get("page") == ["1"] and not self.edited:
                self.edited = True
                (edit or (lambda oid: app.touch(oid)))(first_page[5])
            return response

    return Transport(), first_page[5]


def test_a_second_listing_cut_short_is_done_again_by_the_next_pull(store):
    """The first pass had already saved a cursor past the order it skipped: when the shop failed
    during the second listing, that order was lost for good."""
    sc = generate_scenario(250, seed=5, refund_share=0.0)
    for o in sc["orders"]:
        o["status"] = "completed"
    app = create_app(sc)
    transport, edited = _edited_after_page_one(app, sorted(app.orders), down_on_relist=True)
    old = app.orders[edited].modified
    s = settings("http://localhost", ck=sc["keys"][0]["consumer_key"], cs=sc["keys"][0]["consumer_secret"],
                 concurrency=1)
    with pytest.raises(WooApiError):
        pull_woocommerce(store, s, transport=transport, batch_size=40)  # batches saved during the first pass
    assert store.get_cursor("shop:woo:orders") < f"{old:%Y-%m-%d %H:%M:%S}"  # before the order it skipped
    pull_woocommerce(store, s, transport=app.transport())
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'invoice'") == 250


def test_an_order_read_twice_in_one_pull_is_stored_as_read_last(store):
    """Both reads went into one batch, and the first stayed: an order cancelled while the orders
    were listed kept its invoice."""
    sc = generate_scenario(250, seed=5, refund_share=0.0)
    for o in sc["orders"]:
        o["status"] = "completed"
    app = create_app(sc)

    def cancel(oid):
        app.orders[oid].status = "cancelled"
        app.touch(oid)

    fifth = sorted(app.orders, key=lambda i: (app.orders[i].modified, i))[5]
    app.add_refund(fifth, amount="5.00", bump_modified=False)  # its refund must not be booked either
    transport, cancelled = _edited_after_page_one(app, sorted(app.orders), edit=cancel)
    assert cancelled == fifth
    s = settings("http://localhost", ck=sc["keys"][0]["consumer_key"], cs=sc["keys"][0]["consumer_secret"],
                 concurrency=1)
    pull_woocommerce(store, s, transport=transport)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = ?", [str(cancelled)]) == 0
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'invoice'") == 249


def test_auth_failures_carry_the_shop_error(shop, store):
    app, url, clock = shop
    # OAuth1 over http with a wrong secret: the shop's own message comes through
    with pytest.raises(WooAuthError, match="Invalid signature - provided signature does not match"):
        pull_woocommerce(store, settings(url, cs="cs_" + "0" * 40), clock=clock)
    # Basic over https (in-process, TLS stand-in by scheme) with a wrong secret
    with pytest.raises(WooAuthError, match="Consumer secret is invalid"):
        pull_woocommerce(store, settings("https://shop.test", cs="cs_" + "0" * 40), transport=app.transport(), clock=clock)
    logged = store.rows("SELECT level, message FROM sync_log WHERE level = 'error'")
    assert len(logged) == 2 and "401" in logged[1][1]
    # Basic over plain http reaches WooCommerce as an anonymous request; OAuth1 works
    basic = WooClient(url, CK, CS, auth_mode="basic", clock=clock)
    with pytest.raises(WooAuthError, match="woocommerce_rest_cannot_view.*over http:// the shop needs OAuth"):
        basic.get("orders")
    basic.close()
    oauth = WooClient(url, CK, CS, clock=clock)
    data, resp = oauth.get("orders", {"per_page": 1})
    assert resp.status_code == 200 and len(data) == 1
    oauth.close()
    # no secret anywhere in the database
    dump = json.dumps(store.rows("SELECT * FROM api_calls") + store.rows("SELECT * FROM sync_log"), default=str)
    assert CS not in dump and CK not in dump and "cs_" + "0" * 40 not in dump
    assert "oauth_signature=********" in dump


def test_incremental_pull_finds_late_refund_without_order_change(shop, store):
    app, url, clock = shop
    s = settings(url, lookback_minutes=60)
    pull_woocommerce(store, s, clock=clock)
    first_calls = store.scalar("SELECT count(*) FROM api_calls")
    # a gateway refund that does not bump the order (wc-paypal-payments #1125), a day later
    clock.advance(86400)
    app.add_refund(102, amount="5.00", reason="late", bump_modified=False)
    assert app.orders[102].modified == dt.datetime(2025, 6, 30, 22, 30)
    clock.advance(600)
    result = pull_woocommerce(store, s, clock=clock)
    assert result.errors == 0
    late = store.rows("SELECT kind, order_id, net, vat, gross, treatment, doc_date FROM shop_documents "
                      "WHERE kind = 'credit_note' AND order_id = '102'")
    assert late == [("credit_note", "102", D("-4.20"), D("-0.80"), D("-5.00"), "oss", dt.date(2025, 8, 2))]
    second = store.rows("SELECT path FROM api_calls ORDER BY call_id OFFSET ?", [first_calls])
    orders_call = next(p for (p,) in second if p.startswith("/wp-json/wc/v3/orders?") and "modified_after" in p)
    q = parse_qs(urlsplit(orders_call).query)
    assert q["modified_after"] == ["2025-07-11T09:00:00"] and q["dates_are_gmt"] == ["true"]  # cursor − 60 min
    assert any("include=102" in p for (p,) in second)  # the parent is fetched for the refund
    assert store.scalar("SELECT count(*) FROM shop_documents") == 13
    cursor = store.get_cursor("shop:woo:refunds")
    assert cursor.startswith("2025-08-02")


def test_order_leaving_the_booked_statuses_loses_its_documents(shop, store):
    app, url, clock = shop
    pull_woocommerce(store, settings(url), clock=clock)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '107'") == 3
    clock.advance(3600)
    app.orders[107].status = "cancelled"
    app.touch(107)
    pull_woocommerce(store, settings(url), clock=clock)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '107'") == 0
    assert store.scalar("SELECT count(*) FROM shop_vat_lines WHERE doc_key LIKE 'woo:%:910%' AND doc_key <> 'woo:credit_note:9109'") == 0
    assert store.rows("SELECT level, record_key FROM sync_log WHERE message LIKE '%left the booked statuses%'") == [
        ("info", "order 107")]
    assert store.scalar("SELECT count(*) FROM shop_documents") == 9


def test_order_moved_to_the_trash_loses_its_documents(shop, store):
    """status=any leaves the trash out: a booked order trashed later stayed in the store for good."""
    app, url, clock = shop
    pull_woocommerce(store, settings(url), clock=clock)
    paths = [p for (p,) in store.rows("SELECT path FROM api_calls")]
    assert not any("status=trash" in p for p in paths)  # nothing pulled yet: no trash to look for
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '107'") == 3
    cursor = store.get_cursor("shop:woo:orders")
    clock.advance(3600)
    app.orders[107].status = "trash"
    app.touch(107)
    pull_woocommerce(store, settings(url), clock=clock)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '107'") == 0
    assert store.rows("SELECT level, record_key, message FROM sync_log WHERE message LIKE '%trash%'") == [
        ("info", "order 107", "order 107: was moved to the trash in the shop; its documents were removed")]
    assert store.scalar("SELECT count(*) FROM shop_documents") == 9
    trash_call = next(p for (p,) in store.rows("SELECT path FROM api_calls ORDER BY call_id") if "status=trash" in p)
    assert "modified_after=" in trash_call  # from the same cursor as the order list
    assert store.get_cursor("shop:woo:orders") == cursor  # which the trashed order does not move

    # trashed without a change the cursor sees: a re-read from the start (pull shop --resync) finds it
    app.orders[104].status = "trash"
    pull_woocommerce(store, settings(url), clock=clock)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '104'") > 0
    pull_woocommerce(store, settings(url), clock=clock, full=True)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '104'") == 0

    # without track_status_changes only the booked statuses are listed, as documented
    app.orders[105].status = "trash"
    app.touch(105)
    before = store.scalar("SELECT count(*) FROM api_calls WHERE path LIKE '%status=trash%'")
    pull_woocommerce(store, settings(url, track_status_changes=False), clock=clock)
    assert store.scalar("SELECT count(*) FROM api_calls WHERE path LIKE '%status=trash%'") == before


_ORDER = {"status": "completed", "created": "2025-07-20T10:00:00Z",
          "billing": {"first_name": "A", "last_name": "B", "country": "NL"}, "shipping": {"country": "NL"},
          "items": [{"name": "X", "qty": 1, "price": "100.00", "tax_rate": 1}]}


def test_a_refund_older_than_the_refund_cursor_arrives_with_its_order(shop, store):
    """A refund made while its order was not in a booked status (or could not be read) is older than
    the refund cursor by the time the order is booked: /refunds never lists it again, and only the
    order's refunds[] says it exists. It was lost for good (until a re-read from the start)."""
    app, url, clock = shop
    app.add_order({**copy.deepcopy(_ORDER), "id": 501, "status": "processing"})
    booked = settings(url, statuses=["completed", "refunded"])
    pull_woocommerce(store, booked, clock=clock)
    clock.advance(3600)
    rid = app.add_refund(501, amount="20.00", reason="before shipping")
    pull_woocommerce(store, booked, clock=clock)  # listed by /refunds, but its order is not booked yet
    clock.advance(3 * 86400)
    app.add_refund(104, amount="1.00")  # a later refund moves the refund cursor past the look-back
    pull_woocommerce(store, booked, clock=clock)
    assert store.get_cursor("shop:woo:refunds") > (NOW + dt.timedelta(days=2)).strftime("%Y-%m-%d")
    clock.advance(3600)
    app.orders[501].status = "completed"
    app.touch(501)
    pull_woocommerce(store, booked, clock=clock)
    assert store.rows("SELECT kind, gross FROM shop_documents WHERE order_id = '501' ORDER BY kind") == [
        ("credit_note", D("-20.00")), ("invoice", D("121.00"))]
    assert store.scalar("SELECT count(*) FROM api_calls WHERE path LIKE '/wp-json/wc/v3/orders/501/refunds%'") == 1
    assert store.scalar("SELECT doc_key FROM shop_documents WHERE kind = 'credit_note' AND order_id = '501'") == \
        f"woo:credit_note:{rid}"
    calls = store.scalar("SELECT count(*) FROM api_calls")
    pull_woocommerce(store, booked, clock=clock)  # stored now: not read from its order again
    assert store.scalar("SELECT count(*) FROM api_calls WHERE path LIKE '/wp-json/wc/v3/orders/501/refunds%'") == 1
    assert store.scalar("SELECT count(*) FROM api_calls") > calls


def test_refunds_of_an_order_that_cannot_be_read_are_its_error_and_the_pull_goes_on(store):
    clock = FakeClock(NOW)
    app = create_app(copy.deepcopy(SCENARIO), clock=clock)
    app.add_order({**copy.deepcopy(_ORDER), "id": 501, "status": "processing"})
    booked = settings("http://localhost", statuses=["completed", "refunded"])
    pull_woocommerce(store, booked, clock=clock, transport=app.transport())
    clock.advance(3600)
    app.add_refund(501, amount="20.00")
    pull_woocommerce(store, booked, clock=clock, transport=app.transport())
    clock.advance(3 * 86400)
    app.add_refund(104, amount="1.00")  # moves the refund cursor past the look-back
    pull_woocommerce(store, booked, clock=clock, transport=app.transport())
    clock.advance(3600)
    app.orders[501].status = "completed"
    app.touch(501)
    inner = app.transport()

    class RefundsDown(httpx2.BaseTransport):
        def handle_request(self, request):
            if request.url.path.endswith("/orders/501/refunds"):
                return httpx2.Response(404, json={"code": "woocommerce_rest_invalid_order_id", "message": "Invalid order ID."},
                                       request=request)
            return inner.handle_request(request)

    clock.advance(3600)
    result = pull_woocommerce(store, booked, clock=clock, transport=RefundsDown())
    assert result.errors == 1 and store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '501'") == 1
    (key, msg), = store.rows("SELECT record_key, message FROM sync_log WHERE record_key LIKE 'refund % (order 501)'")
    assert "could not be read" in msg and "the next pull lists the order and tries again" in msg
    assert store.rows("SELECT kind, order_id FROM shop_rejects") == [("credit_note", "501")]
    # later, another order changes (the cursor would move past 501 and its refund be lost): not so
    clock.advance(2 * 86400)
    app.touch(104)
    pull_woocommerce(store, booked, clock=clock, transport=app.transport())
    assert store.rows("SELECT kind FROM shop_documents WHERE order_id = '501' ORDER BY kind") == [
        ("credit_note",), ("invoice",)]
    assert store.rows("SELECT count(*) FROM shop_rejects") == [(0,)]


def test_a_refund_deleted_in_the_shop_loses_its_credit_note(shop, store):
    """DELETE /orders/{id}/refunds/{rid}?force=true (A6): the credit note kept lowering revenue and
    VAT, even after a re-read from the start."""
    app, url, clock = shop
    app.add_order({**copy.deepcopy(_ORDER), "id": 801})
    clock.advance(3600)
    keep = app.add_refund(801, amount="10.00")
    wrong = app.add_refund(801, amount="50.00")
    pull_woocommerce(store, settings(url), clock=clock)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'credit_note' AND order_id = '801'") == 2
    clock.advance(3600)
    app.delete_refund(801, wrong)
    pull_woocommerce(store, settings(url), clock=clock)
    assert store.rows("SELECT doc_key, gross FROM shop_documents WHERE order_id = '801' ORDER BY doc_key") == [
        (f"woo:credit_note:{keep}", D("-10.00")), ("woo:invoice:801", D("121.00"))]
    assert store.rows("SELECT count(*) FROM shop_vat_lines WHERE doc_key = ?", [f"woo:credit_note:{wrong}"]) == [(0,)]
    assert store.rows("SELECT level, record_key, message FROM sync_log WHERE message LIKE '%no longer in the shop%'") == [
        ("info", f"refund {wrong} (order 801)",
         f"refund {wrong} of order 801 is no longer in the shop; its credit note was removed")]
    others = store.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'credit_note'")
    pull_woocommerce(store, settings(url), clock=clock, full=True)  # a re-read keeps every listed refund
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'credit_note'") == others


def test_malformed_orders_become_record_errors(shop, store):
    app, url, clock = shop
    base = {"status": "completed", "created": "2025-07-20T10:00:00Z",
            "billing": {"first_name": "A", "last_name": "B", "country": "NL"}, "shipping": {"country": "NL"},
            "items": [{"name": "X", "qty": 1, "price": "10.00", "tax_rate": 1}]}

    def add(oid, **kw):
        o = copy.deepcopy(base)
        o.update(id=oid, **kw)
        app.add_order(o)

    add(201, billing={"first_name": "No", "last_name": "Country", "country": ""}, shipping={"country": ""})
    add(202, raw={"total": "NaN"})
    add(203, raw={"total": "1e20"})
    add(204, items=[{"name": f"Bolt {i}", "qty": 1, "price": "1.00", "tax_rate": 1} for i in range(10_000)])
    add(205, billing={"first_name": "<b>Evil</b> &amp;", "last_name": "Co", "country": "NL"})
    add(206, items=[{"name": "Mystery", "qty": 1, "price": "10.00", "tax_rate": 999, "rate": 21}])
    add(207, raw={"line_items": "oops"})
    add(208, raw={"total": "99.00"})
    result = pull_woocommerce(store, settings(url), clock=clock)
    errors = dict(store.rows("SELECT record_key, message FROM sync_log WHERE level = 'error'"))
    assert result.errors == 7 and len(errors) == 7
    assert "no billing or shipping country" in errors["order 201"]
    assert "total is not a finite amount" in errors["order 202"]
    assert "larger than" in errors["order 203"] or "out of range" in errors["order 203"]
    assert "10000 line items" in errors["order 204"]
    assert "tax rate 999" in errors["order 206"]
    assert "line_items is not a list" in errors["order 207"]
    assert "total 99.00 differs from its lines" in errors["order 208"]
    assert store.scalar("SELECT customer_name FROM shop_documents WHERE doc_key = 'woo:invoice:205'") == "Evil & Co"
    assert store.scalar("SELECT count(*) FROM shop_documents") == 13  # 12 good + 205

    # each skipped order names the invoice it would have been (a reconciliation explains its entry)
    rejects = {r[0]: r[1:] for r in store.rows(
        "SELECT doc_key, kind, doc_number, order_id, record_key, message FROM shop_rejects ORDER BY doc_key")}
    assert sorted(rejects) == [f"woo:invoice:{n}" for n in (201, 202, 203, 204, 206, 207, 208)]
    assert rejects["woo:invoice:208"][:4] == ("invoice", "208", "208", "order 208")
    assert rejects["woo:invoice:208"][4].startswith("total 99.00 differs from its lines")
    # fixed in the shop and pulled again: read, so no longer a reject; cancelled: no longer expected
    clock.advance(3600)
    add(208)
    with app.lock:
        app.orders[201].status = "cancelled"
    app.touch(201)
    again = pull_woocommerce(store, settings(url), clock=clock)
    assert again.errors == 5
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE doc_key = 'woo:invoice:208'") == 1
    assert sorted(k for (k,) in store.rows("SELECT doc_key FROM shop_rejects")) == [
        f"woo:invoice:{n}" for n in (202, 203, 204, 206, 207)]


def test_transient_html_errors_are_retried(store):
    clock = FakeClock(NOW)
    sc = copy.deepcopy(SCENARIO)
    sc["faults"] = {"fail_requests": [2, 3, 5], "error_statuses": [429, 503], "seed": 11}
    app = create_app(sc, clock=clock)
    srv = serve(app)
    try:
        result = pull_woocommerce(store, settings(srv.url, page_size=3, concurrency=2), clock=clock)
    finally:
        srv.stop()
    assert result.documents == 12 and result.errors == 0
    failed = store.rows("SELECT status, error FROM api_calls WHERE status >= 400")
    assert failed and all(e.startswith("non-JSON answer (text/html)") for _s, e in failed)


def test_missing_refunds_route_falls_back_to_order_refunds(shop, store):
    app, url, clock = shop
    app.store.wc_version = "8.9.3"  # WC < 9.0: no /refunds collection (the sandbox answers rest_no_route)
    result = pull_woocommerce(store, settings(url), clock=clock)
    refunds = store.rows("SELECT status FROM api_calls WHERE path LIKE '/wp-json/wc/v3/refunds%'")
    assert refunds == [(404,)]
    assert result.documents == 12
    assert store.scalar("SELECT count(*) FROM api_calls WHERE path LIKE '/wp-json/wc/v3/orders/%/refunds%'") == 2


def test_unreachable_shop_raises_api_error(store):
    with pytest.raises(WooApiError):
        pull_woocommerce(store, settings("http://127.0.0.1:9", timeout=0.5), clock=FakeClock(NOW))


def test_shop_settings_from_toml_drive_the_pull(shop, store, tmp_path):
    """base_currency, max_order_lines and track_status_changes are real settings, read by the pull."""
    from exactsync.settings import load_settings

    app, url, clock = shop
    (tmp_path / "exactsync.toml").write_text(
        f'[shops.woo]\nkind = "woocommerce"\nurl = "{url}"\nbase_currency = "GBP"\nmax_order_lines = 2\n'
        'track_status_changes = false\n', encoding="utf-8")
    s = load_settings(env={}, cwd=tmp_path).shops["woo"]
    assert (s.base_currency, s.max_order_lines, s.track_status_changes) == ("GBP", 2, False)
    s.consumer_key, s.consumer_secret = Secret(CK), Secret(CS)
    app.add_order({"id": 301, "status": "completed", "created": "2025-07-21T10:00:00Z",
                   "billing": {"first_name": "A", "last_name": "B", "country": "NL"}, "shipping": {"country": "NL"},
                   "items": [{"name": f"Bolt {i}", "qty": 1, "price": "1.00", "tax_rate": 1} for i in range(3)]})
    result = pull_woocommerce(store, s, clock=clock)
    errors = dict(store.rows("SELECT record_key, message FROM sync_log WHERE level = 'error'"))
    assert "3 line items" in errors["order 301"] and result.errors == len(errors)
    assert store.rows("SELECT DISTINCT base_currency FROM shop_documents") == [("GBP",)]


def _orders_and_refunds_calls(store, after_call: int) -> tuple[dict, dict]:
    """The query of the order-list and refund-list calls made after call id ``after_call``."""
    paths = [p for (p,) in store.rows("SELECT path FROM api_calls WHERE call_id > ? ORDER BY call_id", [after_call])]
    orders = next(p for p in paths if p.startswith("/wp-json/wc/v3/orders?") and "orderby=modified" in p)
    refunds = next(p for p in paths if p.startswith("/wp-json/wc/v3/refunds?"))
    return parse_qs(urlsplit(orders).query), parse_qs(urlsplit(refunds).query)


def _last_call(store) -> int:
    return store.scalar("SELECT coalesce(max(call_id), 0) FROM api_calls")


def test_a_changed_statuses_setting_rereads_the_shop_from_the_start(shop, store):
    """An incremental pull only asks for orders changed since its cursor: order 103 (processing, not
    touched since July 2nd) would never arrive after `processing` is added to the statuses."""
    app, url, clock = shop
    narrow = settings(url, statuses=["completed", "refunded"])
    pull_woocommerce(store, narrow, clock=clock)
    assert store.scalar("SELECT count(*) FROM shop_documents WHERE order_id = '103'") == 0
    clock.advance(600)
    before = _last_call(store)
    same = pull_woocommerce(store, narrow, clock=clock)
    orders_q, refunds_q = _orders_and_refunds_calls(store, before)
    assert "modified_after" in orders_q and "after" in refunds_q and same.notes == []  # unchanged: incremental

    clock.advance(600)
    before = _last_call(store)
    wide = settings(url, statuses=["processing", "completed", "refunded"])
    result = pull_woocommerce(store, wide, clock=clock)
    orders_q, refunds_q = _orders_and_refunds_calls(store, before)
    assert "modified_after" not in orders_q and "after" not in refunds_q  # from the start
    assert docs(store)["woo:invoice:103"] == ("reverse_charge", D("30.50"), D("0"), D("30.50"))
    assert store.scalar("SELECT count(*) FROM shop_documents") == 12  # upserted: nothing doubled
    note = ("settings changed since the last pull (statuses: completed, refunded → completed, processing, refunded): "
            "orders and refunds re-read from the start")
    assert result.notes == [note]
    assert store.rows("SELECT level FROM sync_log WHERE message = ?", [note]) == [("info",)]

    clock.advance(600)
    before = _last_call(store)
    again = pull_woocommerce(store, wide, clock=clock)
    orders_q, refunds_q = _orders_and_refunds_calls(store, before)
    assert "modified_after" in orders_q and "after" in refunds_q and again.notes == []


def test_a_reread_cut_short_goes_on_from_where_it_stopped(shop, store):
    """The orders were re-read under the new settings, then the refund list failed: the next pull
    goes on incrementally for the orders and re-reads the refunds from the start."""
    app, url, clock = shop
    pull_woocommerce(store, settings(url, timezone="Europe/Amsterdam"), clock=clock)
    class RefundsRefused(httpx2.HTTPTransport):
        def handle_request(self, request):
            if request.url.path.endswith("/refunds"):
                return httpx2.Response(400, json={"code": "rest_invalid_param", "message": "Invalid parameter(s): after",
                                                  "data": {"status": 400}})
            return super().handle_request(request)

    clock.advance(600)
    with pytest.raises(WooApiError, match="Invalid parameter"):
        pull_woocommerce(store, settings(url, timezone="Europe/London"), transport=RefundsRefused(),
                         clock=clock)
    clock.advance(600)
    before = _last_call(store)
    result = pull_woocommerce(store, settings(url, timezone="Europe/London"), clock=clock)
    orders_q, refunds_q = _orders_and_refunds_calls(store, before)
    assert "modified_after" in orders_q and "after" not in refunds_q
    assert result.notes == ["settings changed since the last pull (timezone: Europe/Amsterdam → Europe/London): "
                            "refunds re-read from the start"]
    assert store.scalar("SELECT count(*) FROM shop_documents") == 12


def test_full_pull_ignores_the_cursors_without_a_note(shop, store):
    app, url, clock = shop
    pull_woocommerce(store, settings(url), clock=clock)
    clock.advance(600)
    before = _last_call(store)
    result = pull_woocommerce(store, settings(url), clock=clock, full=True)
    orders_q, refunds_q = _orders_and_refunds_calls(store, before)
    assert "modified_after" not in orders_q and "after" not in refunds_q and result.notes == []
    assert result.documents == 12 and store.scalar("SELECT count(*) FROM shop_documents") == 12
