"""Magento connector against the Magento sandbox over real HTTP, into a real DuckDB file."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import httpx2
import pytest

from exactsync.clock import FakeClock
from exactsync.sandbox.magento import create_app
from exactsync.sandbox.server import serve
from exactsync.settings import Secret, ShopSettings
from exactsync.shops.magento import MagentoAuthError, MagentoError, pull_magento
from exactsync.store import Store

DATA = Path(__file__).parents[1] / "sandbox" / "data" / "magento_small.json"
TOKEN = "itok-small-1"


def small() -> dict:
    return json.loads(DATA.read_text())


def settings(url: str, **kw) -> ShopSettings:
    base = dict(name="m2", kind="magento", url=url, token=Secret(TOKEN), page_size=100, lookback_minutes=60)
    base.update(kw)
    return ShopSettings(**base)


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "es.duckdb")


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    """The small scenario pulled once over HTTP (read-only for the tests that use it)."""
    app = create_app(small())
    srv = serve(app)
    try:
        st = Store.open(tmp_path_factory.mktemp("pulled") / "es.duckdb")
        seen = []
        result = pull_magento(st, settings(srv.url), on_progress=lambda d, t, m: seen.append((d, t, m)))
    finally:
        srv.stop()
    return st, result, seen, app


def docs(st: Store) -> dict[str, dict]:
    return {r["doc_key"]: r for r in st.query("SELECT * FROM shop_documents").to_dicts()}


def lines(st: Store, key: str) -> list[tuple]:
    return st.rows(
        "SELECT line_type, tax_class, country, rate, treatment, base, vat FROM shop_vat_lines WHERE doc_key = ? ORDER BY line_no",
        [key],
    )


def test_full_pull_counts_and_progress(pulled):
    st, result, seen, _ = pulled
    assert (result.documents, result.errors) == (11, 0)
    assert st.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'invoice'") == 9
    assert st.scalar("SELECT count(*) FROM shop_documents WHERE kind = 'credit_note'") == 2
    assert seen[0][:2] == (0, 11) and seen[-1][0] == 11
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    # Σ lines = document, for every document, in both columns
    bad = st.rows("""
        SELECT d.doc_key FROM shop_documents d JOIN shop_vat_lines l USING (doc_key)
        GROUP BY d.doc_key, d.net, d.vat HAVING sum(l.base) <> d.net OR sum(l.vat) <> d.vat""")
    assert bad == []


def test_amounts_exact_to_the_cent(pulled):
    st, *_ = pulled
    d = docs(st)
    inv1 = d["m2:invoice:1"]
    assert (inv1["net"], inv1["vat"], inv1["gross"]) == (D("50"), D("8.10"), D("58.10"))
    assert inv1["doc_number"] == "000000001" and inv1["order_number"] == "000000001"
    assert inv1["customer_ref"] == "11" and inv1["customer_name"] == "Anna de Vries"
    assert lines(st, "m2:invoice:1") == [
        ("goods", "NL-9", "NL", D("9"), "domestic", D("20"), D("1.80")),
        ("goods", "NL-21", "NL", D("21"), "domestic", D("25"), D("5.25")),
        ("shipping", "NL-21", "NL", D("21"), "domestic", D("5"), D("1.05")),
    ]
    # prices incl. tax with a coupon: discount netted, discount tax compensation added back
    inv6 = d["m2:invoice:6"]
    assert (inv6["net"], inv6["vat"], inv6["gross"]) == (D("42.49"), D("8.50"), D("50.99"))
    assert inv6["discount_net"] == D("4.17") and inv6["shipping_net"] == D("5")
    assert lines(st, "m2:invoice:6")[0][5:] == (D("37.49"), D("7.50"))
    # order currency USD, base EUR
    inv8 = d["m2:invoice:8"]
    assert (inv8["currency"], inv8["base_currency"], inv8["fx_rate"]) == ("USD", "EUR", D("1.085"))
    assert (inv8["net"], inv8["vat"], inv8["gross"]) == (D("119.33"), D("25.06"), D("144.39"))
    assert (inv8["net_base"], inv8["vat_base"], inv8["gross_base"]) == (D("109.98"), D("23.10"), D("133.08"))


def test_credit_notes_are_negative_with_adjustment_line(pulled):
    st, *_ = pulled
    cn = docs(st)["m2:credit_note:1"]
    assert cn["doc_number"] == "000000001" and cn["order_number"] == "000000002" and cn["status"] == "refunded"
    # one T-shirt (15 + 19 %) refunded, 2.00 kept as an adjustment fee
    assert (cn["net"], cn["vat"], cn["gross"]) == (D("-13"), D("-2.85"), D("-15.85"))
    assert lines(st, "m2:credit_note:1") == [
        ("goods", "DE-19", "DE", D("19"), "oss", D("-15"), D("-2.85")),
        ("adjustment", "", "DE", D("0"), "oss", D("2"), D("0")),
    ]


def test_vat_classification(pulled):
    st, *_ = pulled
    d = docs(st)
    assert d["m2:invoice:1"]["treatment"] == "domestic"
    assert d["m2:invoice:2"]["treatment"] == "oss" and d["m2:invoice:2"]["vat_country"] == "DE"
    rc = d["m2:invoice:3"]
    assert (rc["treatment"], rc["vat_number"], rc["company"]) == ("reverse_charge", "BE0123456789", "ACME BV")
    assert d["m2:invoice:4"]["treatment"] == "export"
    virtual = d["m2:invoice:9"]  # no shipping address: billing country decides
    assert (virtual["ship_country"], virtual["vat_country"], virtual["treatment"]) == (None, "AT", "oss")


def test_configurable_and_bundle_rows_booked_once(pulled):
    st, *_ = pulled
    # configurable: parent carries 2 × 15, child row (amount 0) is not a second line
    assert lines(st, "m2:invoice:2")[0][5:] == (D("36"), D("6.84"))
    # dynamic bundle: the children carry the amounts (10 @ 21 %, 2 × 7.50 @ 9 %), the parent 0
    assert lines(st, "m2:invoice:5") == [
        ("goods", "NL-9", "NL", D("9"), "domestic", D("15"), D("1.35")),
        ("goods", "NL-21", "NL", D("21"), "domestic", D("10"), D("2.10")),
        ("shipping", "NL-21", "NL", D("21"), "domestic", D("5"), D("1.05")),
    ]


def test_duplicated_child_amounts_are_not_counted_twice(store):
    """Versions that repeat the configurable's amounts on the child row: the parent alone is booked."""
    sc = small()
    sc["orders"] = [o for o in sc["orders"] if o["id"] == 2]
    app = create_app(sc)
    inv = next(iter(app.invoices.values()))
    parent, child = inv["items"][0], inv["items"][1]
    for k in ("row_total", "tax_amount", "base_row_total", "base_tax_amount", "price"):
        child[k] = parent[k]
    with serve(app) as srv:
        pull_magento(store, settings(srv.url))
    assert store.scalar("SELECT net FROM shop_documents WHERE doc_key = 'm2:invoice:1'") == D("40.95")


def _many_invoices(n: int) -> dict:
    sc = small()
    sc["orders"] = [
        {"id": i, "created_at": f"2025-04-01 10:{i:02d}:00", "billing": {"country": "NL"},
         "items": [{"sku": "MUG", "qty": 1, "price": 10, "tax_percent": 21}],
         "invoices": [{"created_at": f"2025-04-01 11:{i:02d}:00"}]}
        for i in range(1, n + 1)
    ]
    return sc


def _page_calls(app, path):
    return [q for m, p, q in app.requests if p.endswith(path) and "fields=total_count" not in q]


def test_stops_on_total_count_and_never_reads_the_repeated_page(store):
    app = create_app(_many_invoices(9))  # overflow mode: a page past the end repeats the last page
    with serve(app) as srv:
        result = pull_magento(store, settings(srv.url, page_size=4))
    assert result.documents == 9 and result.pages == 3
    assert len(_page_calls(app, "/V1/invoices")) == 3
    assert store.scalar("SELECT count(DISTINCT doc_key) FROM shop_documents") == 9


class LyingCount(httpx2.BaseTransport):
    """A shop whose total_count is too high (seen with ACL-filtered or changing collections)."""

    def __init__(self, inner):
        self.inner = inner

    def handle_request(self, request):
        resp = self.inner.handle_request(request)
        if "/V1/invoices" in request.url.path and resp.status_code == 200:
            body = json.loads(resp.read())
            body["total_count"] = 1000
            return httpx2.Response(200, json=body, request=request)
        return resp


def test_repeated_last_page_stops_the_paginator(store):
    app = create_app(_many_invoices(9))
    result = pull_magento(store, settings("http://m2.test", page_size=4), transport=LyingCount(app.transport()))
    # pages 1-3 are new, page 4 repeats page 3 (overflow quirk): no new id → stop, nothing doubled
    assert len(_page_calls(app, "/V1/invoices")) == 4
    assert result.documents == 9
    assert store.scalar("SELECT count(*) FROM shop_documents") == 9


def _twelve_open_invoices():
    """(clock, app): twelve open invoices; the clock is after every scenario date, so a touched
    invoice goes last in a list by updated_at."""
    clock = FakeClock(1_790_000_000)
    sc = _many_invoices(12)
    for o in sc["orders"]:
        o["invoices"][0]["state"] = 1
    return clock, create_app(sc, clock=clock)


def test_an_invoice_changed_while_the_invoices_are_listed_skips_none(store):
    """Pages are numbered over a list sorted by updated_at (§B4): an invoice paid after page 1 was
    read moves to the end, the rest one place up, and the invoice at the page boundary was never
    read (the cursor then went past it: lost until a re-read from the start)."""
    clock, app = _twelve_open_invoices()
    inner = app.transport()

    class PaidAfterPageOne(httpx2.BaseTransport):
        paid = False

        def handle_request(self, request):
            response = inner.handle_request(request)
            q = request.url.params
            if (request.url.path.endswith("/V1/invoices") and q.get("searchCriteria[currentPage]") == "1"
                    and "fields" not in q and not self.paid):
                self.paid = True
                app.touch("invoice", 2, state=2)  # invoice 2 (read on page 1) is paid now
            return response

    pull_magento(store, settings("http://m2.test", page_size=4), transport=PaidAfterPageOne(), clock=clock)
    assert store.rows("SELECT source_id FROM shop_documents ORDER BY source_id::INT") == [(str(i),) for i in range(1, 13)]
    assert store.scalar("SELECT status FROM shop_documents WHERE doc_key = 'm2:invoice:2'") == "paid"
    (msg,) = store.rows("SELECT message FROM sync_log WHERE message LIKE '%changed while the invoices were listed%'")
    assert msg[0] == ("1 invoice(s) changed while the invoices were listed; invoices listed again from "
                      "2025-04-01 11:02:00 UTC so that none is skipped")
    again = [httpx2.QueryParams(q) for q in _page_calls(app, "/V1/invoices")][3:]  # after pages 1-3
    assert again and all(q.get("searchCriteria[filter_groups][0][filters][0][field]") == "updated_at"
                         and q.get("searchCriteria[filter_groups][0][filters][0][condition_type]") == "gteq"
                         for q in again)  # from where it happened, not the start
    assert again[0].get("searchCriteria[filter_groups][0][filters][0][value]") == "2025-04-01 11:02:00"
    assert store.get_cursor("shop:m2:invoices") == app.invoices[2]["updated_at"]


def test_a_second_listing_cut_short_is_done_again_by_the_next_pull(store):
    """The first pass had saved a cursor past the invoice it skipped: when the shop failed during
    the second listing, that invoice was lost for good."""
    clock, app = _twelve_open_invoices()
    inner = app.transport()

    class PaidAfterPageOneThenDown(httpx2.BaseTransport):
        paid, pages = False, 0

        def handle_request(self, request):
            q = request.url.params
            if request.url.path.endswith("/V1/invoices") and "fields" not in q:
                self.pages += 1
                if self.pages > 3:  # the shop goes down during the second listing
                    app.fail_next(1, 500)
            response = inner.handle_request(request)
            if (request.url.path.endswith("/V1/invoices") and q.get("searchCriteria[currentPage]") == "1"
                    and "fields" not in q and not self.paid):
                self.paid = True
                app.touch("invoice", 2, state=2)
            return response

    with pytest.raises(MagentoError):
        pull_magento(store, settings("http://m2.test", page_size=4), transport=PaidAfterPageOneThenDown(), clock=clock)
    clock.advance(600)
    pull_magento(store, settings("http://m2.test", page_size=4), transport=app.transport(), clock=clock)
    have = sorted(int(s) for (s,) in store.rows("SELECT source_id FROM shop_documents WHERE kind = 'invoice'"))
    assert have == list(range(1, 13))


def test_listing_again_by_updated_at_ends_when_one_second_fills_whole_pages():
    """Eight invoices share one updated_at: the window is paged by number, and the repeated last
    page that Magento answers past the end (with a total_count too high) ends the listing."""
    from itertools import islice

    from exactsync.shops.magento import MagentoClient, _pages_by_updated

    sc = _many_invoices(8)
    for o in sc["orders"]:
        o["invoices"][0]["created_at"] = "2025-04-01 11:00:00"
    app = create_app(sc)
    with MagentoClient("http://m2.test", TOKEN, transport=LyingCount(app.transport())) as client:
        pages = list(islice(_pages_by_updated(client, "/invoices", 4, "2025-04-01 11:00:00"), 10))
    assert [[d["entity_id"] for d in p] for p in pages] == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert [httpx2.QueryParams(q).get("searchCriteria[currentPage]") for q in _page_calls(app, "/V1/invoices")] == ["1", "2", "3"]


def test_malformed_records_are_logged_and_the_rest_stored(store):
    app = create_app(_many_invoices(6))
    app.invoices[1]["grand_total"] = "twelve"
    app.invoices[2]["order_id"] = 999
    app.invoices[3]["items"] = "nope"
    app.invoices[4]["created_at"] = "yesterday"
    app.invoices[5]["items"][0]["order_item_id"] = 4242
    with serve(app) as srv:
        result = pull_magento(store, settings(srv.url))
    assert result.documents == 1 and result.errors == 5
    assert store.rows("SELECT doc_key FROM shop_documents") == [("m2:invoice:6",)]
    errs = dict(store.rows("SELECT record_key, message FROM sync_log WHERE level = 'error'"))
    assert set(errs) == {f"m2:invoice:{i}" for i in range(1, 6)}
    assert "grand_total" in errs["m2:invoice:1"]
    assert "order 999" in errs["m2:invoice:2"]
    assert "items" in errs["m2:invoice:3"]
    assert "created_at" in errs["m2:invoice:4"]
    assert "4242" in errs["m2:invoice:5"]
    # each names the invoice it would have been (its increment id: the number its YourRef is built from)
    rejects = store.rows("SELECT doc_key, kind, doc_number, record_key FROM shop_rejects ORDER BY doc_key")
    assert rejects == [(f"m2:invoice:{i}", "invoice", app.invoices[i]["increment_id"], f"m2:invoice:{i}")
                       for i in range(1, 6)]


def test_order_data_of_an_unexpected_shape_is_a_record_error_not_a_stopped_pull(store):
    """A string where an address object belongs, an item id that is not a number, a null applied
    tax: each stopped the whole pull (every later pull at the same record, its page never stored)."""
    app = create_app(_many_invoices(6))
    order_of = {i: int(app.invoices[i]["order_id"]) for i in range(1, 7)}
    app.orders[order_of[1]]["billing_address"] = "n/a"
    app.orders[order_of[2]].setdefault("extension_attributes", {})["item_applied_taxes"] = [
        {"type": "product", "item_id": "abc", "applied_taxes": [{"code": "NL-21", "percent": 21}]}]
    app.orders[order_of[3]].setdefault("extension_attributes", {})["item_applied_taxes"] = [
        {"type": "shipping", "item_id": None, "applied_taxes": [None]}]
    app.orders[order_of[4]].setdefault("extension_attributes", {})["item_applied_taxes"] = [
        {"type": "shipping", "item_id": None, "applied_taxes": [{"code": "NL-21", "percent": "n/a"}]}]
    result = pull_magento(store, settings("http://m2.test"), transport=app.transport())
    assert (result.documents, result.errors) == (2, 4)
    assert store.rows("SELECT doc_key FROM shop_documents ORDER BY doc_key") == [("m2:invoice:5",), ("m2:invoice:6",)]
    errs = dict(store.rows("SELECT record_key, message FROM sync_log WHERE level = 'error'"))
    assert set(errs) == {f"m2:invoice:{i}" for i in range(1, 5)}, errs  # each names its document
    assert "unexpected data" in errs["m2:invoice:1"] and "shipping tax percent" in errs["m2:invoice:4"]
    assert store.get_cursor("shop:m2:invoices") is not None  # the page was stored: the next pull goes on


def _home_rate_to_germany() -> dict:
    """An NL shop under the EU distance-sale threshold: NL 21 % charged on a sale shipped to DE."""
    sc = small()
    sc["orders"] = [{"id": 1, "created_at": "2025-03-01 10:00:00", "customer": {"id": 1, "email": "a@x.de"},
                     "billing": {"country": "DE"}, "items": [{"sku": "A", "qty": 1, "price": 100, "tax_percent": 21}],
                     "shipping_amount": 0, "invoices": [{"created_at": "2025-03-01 10:00:00"}]}]
    return sc


def _charge_the_nl_rate(app) -> None:
    ext = app.orders[1]["extension_attributes"]
    for entry in ext["item_applied_taxes"] + [{"applied_taxes": ext["applied_taxes"]}]:
        for t in entry["applied_taxes"]:
            t["code"] = t["title"] = "NL-21"  # the rate applied is the NL one (taxRates: tax_country_id NL)


def test_a_line_taxed_at_the_home_rate_is_home_vat_whatever_the_ship_to(store):
    """It was stored as OSS in DE at 21 %, a rate DE does not have; WooCommerce books the same sale
    as domestic NL (its tax rate's country)."""
    app = create_app(_home_rate_to_germany())
    _charge_the_nl_rate(app)
    pull_magento(store, settings("http://m2.test"), transport=app.transport())
    assert store.rows("SELECT treatment, vat_country FROM shop_documents") == [("domestic", "DE")]
    assert lines(store, "m2:invoice:1") == [("goods", "NL-21", "NL", D("21"), "domestic", D("100"), D("21"))]
    assert store.scalar("SELECT count(*) FROM api_calls WHERE path LIKE '%/V1/taxRates/search%'") == 1


def test_without_the_tax_acl_lines_take_the_ship_to_country_with_a_warning(store):
    sc = _home_rate_to_germany()
    sc["store"]["tokens"] = [{"token": TOKEN, "resources": ["Magento_Sales::sales"]}]
    app = create_app(sc)
    _charge_the_nl_rate(app)
    result = pull_magento(store, settings("http://m2.test"), transport=app.transport())
    assert result.documents == 1 and result.errors == 0
    assert lines(store, "m2:invoice:1")[0][2:5] == ("DE", D("21"), "oss")
    (msg,) = store.rows("SELECT message FROM sync_log WHERE level = 'warning'")
    assert "cannot read the tax rates (Magento_Tax::manage_tax)" in msg[0]


def test_tax_rates_that_cannot_be_read_now_stop_the_pull_before_any_document(store):
    """With the rates missing for one pull, its documents kept the ship-to country for good (the
    cursor moved past them); only a token without the tax ACL goes on without them."""
    app = create_app(_home_rate_to_germany())
    _charge_the_nl_rate(app)
    inner = app.transport()

    class RatesDown(httpx2.BaseTransport):
        def handle_request(self, request):
            if request.url.path.endswith("/V1/taxRates/search"):
                return httpx2.Response(500, json={"message": "Internal Error."}, request=request)
            return inner.handle_request(request)

    with pytest.raises(MagentoError):
        pull_magento(store, settings("http://m2.test"), transport=RatesDown(), clock=FakeClock(1_790_000_000))
    assert store.scalar("SELECT count(*) FROM shop_documents") == 0 and store.get_cursor("shop:m2:invoices") is None
    pull_magento(store, settings("http://m2.test"), transport=inner, clock=FakeClock(1_790_000_000))
    assert lines(store, "m2:invoice:1")[0][2:5] == ("NL", D("21"), "domestic")


def test_invalid_vat_number_is_not_reverse_charge(store):
    sc = small()
    sc["orders"] = [o for o in sc["orders"] if o["id"] == 3]
    sc["orders"][0]["billing"]["vat_is_valid"] = 0
    app = create_app(sc)
    result = pull_magento(store, settings("http://m2.test"), transport=app.transport())
    assert result.documents == 1
    assert store.scalar("SELECT treatment FROM shop_documents") == "exempt"
    (msg,) = store.rows("SELECT message FROM sync_log WHERE level = 'warning'")
    assert "not valid" in msg[0]


def test_incremental_pull_picks_up_a_new_credit_memo(store):
    clock = FakeClock(1_790_000_000)  # 2026-09-21, after every scenario date
    app = create_app(small(), clock=clock)
    with serve(app) as srv:
        first = pull_magento(store, settings(srv.url), clock=clock)
        assert first.documents == 11
        cursor = store.get_cursor("shop:m2:creditmemos")
        clock.advance(3600)
        cm = app.add_creditmemo(1, {"items": {"MUG": 1}, "shipping": 5})
        app.requests.clear()
        second = pull_magento(store, settings(srv.url), clock=clock)
    # only what changed since the cursors minus the 60 min look-back was read: the last invoice
    # and the last credit memo again (upserted, not doubled) and the new credit memo
    assert second.documents == 3 and second.errors == 0
    calls = _page_calls(app, "/V1/creditmemos")
    assert len(calls) == 1 and "updated_at" in httpx2.QueryParams(calls[0]).get("searchCriteria[filter_groups][0][filters][0][field]")
    assert httpx2.QueryParams(calls[0]).get("searchCriteria[filter_groups][0][filters][0][condition_type]") == "gteq"
    assert store.get_cursor("shop:m2:creditmemos") == cm["updated_at"] > cursor
    new = docs(store)[f"m2:credit_note:{cm['entity_id']}"]
    assert (new["net"], new["vat"], new["gross"]) == (D("-17.50"), D("-3.68"), D("-21.18"))
    assert store.scalar("SELECT count(*) FROM shop_documents") == 12


def test_api_calls_recorded_without_token(pulled):
    st, result, *_ = pulled
    rows = st.rows("SELECT system, method, path, status FROM api_calls")
    assert len(rows) == result.calls and all(r[0] == "magento" and r[3] == 200 for r in rows)
    assert all(r[2].startswith("/rest/V1/") for r in rows)
    dump = json.dumps(st.rows("SELECT * FROM api_calls"), default=str) + json.dumps(st.rows("SELECT * FROM sync_log"), default=str)
    assert TOKEN not in dump


def test_unauthorized_token_raises_clear_error(store):
    app = create_app(small())
    with serve(app) as srv, pytest.raises(MagentoAuthError) as err:
        pull_magento(store, settings(srv.url, token=Secret("wrong-token-xyz")))
    assert "Magento_Sales::sales" in str(err.value) and "wrong-token-xyz" not in str(err.value)
    assert store.rows("SELECT status FROM api_calls") == [(401,)]
    assert store.scalar("SELECT count(*) FROM sync_log WHERE level = 'error'") == 1


def test_retries_5xx_then_succeeds(store):
    clock = FakeClock()
    app = create_app(small(), clock=clock)
    app.fail_next(2, 503)
    result = pull_magento(store, settings("http://m2.test"), transport=app.transport(), clock=clock)
    assert result.documents == 11
    assert [s for (s,) in store.rows("SELECT status FROM api_calls ORDER BY call_id")][:3] == [503, 503, 200]


def test_gives_up_after_persistent_errors_keeping_stored_pages(store):
    clock = FakeClock()
    app = create_app(_many_invoices(6), clock=clock)

    class FailAfter(httpx2.BaseTransport):
        def __init__(self):
            self.inner = app.transport()

        def handle_request(self, request):
            if request.url.params.get("searchCriteria[currentPage]") == "2":
                app.fail_next(1, 500)
            return self.inner.handle_request(request)

    with pytest.raises(MagentoError, match="500"):
        pull_magento(store, settings("http://m2.test", page_size=4), transport=FailAfter(), clock=clock)
    assert store.scalar("SELECT count(*) FROM shop_documents") == 4  # the first page is kept
    assert store.get_cursor("shop:m2:invoices") == "2025-04-01 11:04:00"


def test_a_changed_timezone_rereads_the_shop_from_the_start(store):
    """Document dates are taken in the shop's time zone: after it changes, an incremental pull would
    leave every document not touched since with its old date. The pull re-reads the shop instead."""
    clock = FakeClock()
    app = create_app(small(), clock=clock)
    pull_magento(store, settings("http://m2.test", timezone="Europe/Amsterdam"), transport=app.transport(), clock=clock)
    dates = dict(store.rows("SELECT doc_key, doc_date FROM shop_documents"))

    def filters_of_next_pull(s) -> tuple[list[str], list[str]]:
        before = store.scalar("SELECT max(call_id) FROM api_calls")
        result = pull_magento(store, s, transport=app.transport(), clock=clock)
        lists = [p for (p,) in store.rows("SELECT path FROM api_calls WHERE call_id > ? AND (path LIKE '/rest/V1/invoices?%' "
                                          "OR path LIKE '/rest/V1/creditmemos?%') AND path NOT LIKE '%fields=total_count%'",
                                          [before])]
        return ["updated_at" in p and "gteq" in p for p in lists], result.notes

    assert filters_of_next_pull(settings("http://m2.test", timezone="Europe/Amsterdam")) == ([True, True], [])
    filtered, notes = filters_of_next_pull(settings("http://m2.test", timezone="Pacific/Pago_Pago"))
    assert filtered == [False, False]
    assert notes == ["settings changed since the last pull (timezone: Europe/Amsterdam → Pacific/Pago_Pago): "
                     "invoices and credit memos re-read from the start"]
    moved = {k: d for k, d in store.rows("SELECT doc_key, doc_date FROM shop_documents") if dates[k] != d}
    assert moved, "some document of the small scenario changes its date with the time zone"
    assert store.scalar("SELECT count(*) FROM shop_documents") == len(dates)
    assert filters_of_next_pull(settings("http://m2.test", timezone="Pacific/Pago_Pago")) == ([True, True], [])
