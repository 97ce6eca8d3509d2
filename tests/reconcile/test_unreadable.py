"""An Exact entry whose shop document the last pull could not read is "only in Exact" *because* of
that, and the run says so: the reason from the shop's sync log, not "no shop document"."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from recon_world import World

from exactsync.clock import FakeClock
from exactsync.reconcile import results, run_reconciliation
from exactsync.sandbox.server import serve
from exactsync.sandbox.woocommerce import create_app
from exactsync.settings import Secret, ShopSettings
from exactsync.shops.woocommerce import pull_woocommerce

D = Decimal
SCENARIO = json.loads((Path(__file__).parents[1] / "sandbox" / "data" / "woocommerce_small.json").read_text("utf-8"))
ORDER = {"status": "completed", "created": "2025-07-20T10:00:00Z",
         "billing": {"first_name": "A", "last_name": "B", "country": "NL"}, "shipping": {"country": "NL"},
         "items": [{"name": "X", "qty": 1, "price": "10.00", "tax_rate": 1}]}


def woo_sandbox(*orders: dict):
    """(clock, app, shop settings without a URL yet) for the small Woo scenario plus ``orders``."""
    clock = FakeClock(dt.datetime(2025, 8, 1, 12, 0, tzinfo=dt.timezone.utc))
    app = create_app(copy.deepcopy(SCENARIO), clock=clock)
    for order in orders:
        app.add_order({**copy.deepcopy(ORDER), **order})
    shop = ShopSettings(name="woo", kind="woocommerce", consumer_key=Secret(SCENARIO["keys"][0]["consumer_key"]),
                        consumer_secret=Secret(SCENARIO["keys"][0]["consumer_secret"]))
    return clock, app, shop


def test_an_entry_of_an_unreadable_shop_document_says_why(store):
    clock, app, shop = woo_sandbox({"id": 208, "raw": {"total": "99.00"}})  # its total is not its lines'
    w = World()
    w.entry("WC-208", "2025-07-20", [("2", D("8.26"), D("1.74"))])  # booked in Exact all the same
    w.entry("WC-209", "2025-07-20", [("2", D("8.26"), D("1.74"))])  # no such order at all
    w.write(store)
    with serve(app) as srv:
        shop.url = srv.url
        assert pull_woocommerce(store, shop, clock=clock).errors == 1
        run = run_reconciliation(store, w.settings(), "2025-07")
        rows = {r["your_ref"]: r for r in results(store, run.run_id).iter_rows(named=True) if r["doc_key"] is None}
        assert rows["WC-208"]["status"] == rows["WC-209"]["status"] == "only_in_exact"
        assert rows["WC-208"]["detail"] == (
            "no shop document with reference WC-208 in the store: woo could not read order 208 at its last pull "
            "(total 99.00 differs from its lines (12.10) by 86.90; not imported); fix it in the shop and pull again "
            "(see the sync log)")
        assert rows["WC-209"]["detail"] == "no shop document with reference WC-209 in the shops of this division"
        assert any(m.startswith("woo: 1 document(s) could not be read at the last pull") and "order 208" in m
                   for m in run.warnings)

        # fixed in the shop and pulled again: an ordinary document (here: booked with another amount)
        clock.advance(3600)
        app.add_order({**copy.deepcopy(ORDER), "id": 208})
        assert pull_woocommerce(store, shop, clock=clock).errors == 0
        again = run_reconciliation(store, w.settings(), "2025-07")
        row = next(r for r in results(store, again.run_id).iter_rows(named=True) if r["doc_key"] == "woo:invoice:208")
        assert row["status"] == "amount_differs"
        assert not any("could not be read" in m for m in again.warnings)
        # the first run shows what it showed then
        first = {r["your_ref"]: r for r in results(store, run.run_id).iter_rows(named=True) if r["doc_key"] is None}
        assert first["WC-208"]["detail"] == rows["WC-208"]["detail"]


def test_a_document_whose_latest_change_cannot_be_read_is_compared_as_it_was(store):
    """Read once, then changed into something the connector cannot read: the run compares the
    version it has, and its warning says that — not that the document is in no reconciliation."""
    clock, app, shop = woo_sandbox({"id": 210})
    w = World()
    w.entry("WC-210", "2025-07-20", [("2", D(10), D("2.10"))])
    w.write(store)
    with serve(app) as srv:
        shop.url = srv.url
        assert pull_woocommerce(store, shop, clock=clock).errors == 0
        clock.advance(3600)
        app.add_order({**copy.deepcopy(ORDER), "id": 210, "raw": {"total": "99.00"}})
        assert pull_woocommerce(store, shop, clock=clock).errors == 1
        run = run_reconciliation(store, w.settings(), "2025-07")
    row = next(r for r in results(store, run.run_id).iter_rows(named=True) if r["doc_key"] == "woo:invoice:210")
    assert row["status"] == "matched"  # the version read before
    (warning,) = [m for m in run.warnings if "could not be read" in m]
    assert warning.startswith("woo: the latest change of 1 document(s) could not be read at the last pull; this run "
                              "compares the version pulled before (first: order 210: total 99.00")
