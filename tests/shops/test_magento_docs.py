"""Magento document mapping and paginator rules, on sandbox-built documents (no HTTP)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from exactsync.sandbox.magento import create_app, to_wire
from exactsync.shops.base import RecordError
from exactsync.shops.magento import TotalCountPaginator
from exactsync.shops.magento_docs import booked_item_ids, build_document

DATA = Path(__file__).parents[1] / "sandbox" / "data" / "magento_small.json"
NOW = dt.datetime(2026, 1, 1)


def wire(x):
    return json.loads(json.dumps(to_wire(x)), parse_float=D)


@pytest.fixture(scope="module")
def app():
    return create_app(json.loads(DATA.read_text()))


def build(app, inv_id, kind="invoice", **patch):
    doc = wire((app.invoices if kind == "invoice" else app.creditmemos)[inv_id])
    doc.update(patch)
    order = wire(app.orders[doc["order_id"]])
    return build_document(doc, kind, order, shop="m2", home_country="NL", timezone="Europe/Amsterdam", pulled_at=NOW)


def test_booked_rows_configurable_dynamic_and_fixed_bundle():
    items = [
        {"item_id": 1, "parent_item_id": None, "product_type": "configurable", "row_total": 30},
        {"item_id": 2, "parent_item_id": 1, "product_type": "simple", "row_total": 0},
        {"item_id": 3, "parent_item_id": None, "product_type": "bundle", "row_total": 0},
        {"item_id": 4, "parent_item_id": 3, "product_type": "simple", "row_total": 10},
        {"item_id": 5, "parent_item_id": 3, "product_type": "simple", "row_total": 15},
        {"item_id": 6, "parent_item_id": None, "product_type": "bundle", "row_total": 50},  # fixed price
        {"item_id": 7, "parent_item_id": 6, "product_type": "simple", "row_total": 0},
    ]
    assert booked_item_ids(items) == {1, 4, 5, 6}


def test_rounding_gap_is_absorbed_but_a_real_gap_is_an_error(app):
    doc, lines, _ = build(app, 1, tax_amount=D("8.11"), grand_total=D("58.11"))
    assert doc.vat == D("8.11") and sum(ln.vat for ln in lines) == D("8.11")
    assert doc.net == D("50")
    with pytest.raises(RecordError, match="do not add up"):
        build(app, 1, grand_total=D("68.10"))


def test_doc_date_is_local(app):
    doc, _, _ = build(app, 1, created_at="2025-03-31 22:30:00")  # 00:30 on 1 April in Amsterdam (CEST)
    assert doc.doc_date == dt.date(2025, 4, 1) and doc.created_at == dt.datetime(2025, 3, 31, 22, 30)


def test_boolean_and_huge_amounts_are_record_errors(app):
    with pytest.raises(RecordError, match="tax_amount"):
        build(app, 1, tax_amount=True)
    with pytest.raises(RecordError, match="grand_total"):
        build(app, 1, grand_total=D("1e20"))


def test_missing_base_amounts_leave_base_columns_null(app):
    doc = wire(app.invoices[1])
    for k in [k for k in doc if k.startswith("base_")]:
        del doc[k]
    for it in doc["items"]:
        for k in [k for k in it if k.startswith("base_")]:
            del it[k]
    d, lines, _ = build_document(doc, "invoice", wire(app.orders[1]), shop="m2", home_country="NL",
                                 timezone="UTC", pulled_at=NOW)
    assert d.net == D("50") and d.net_base is None and d.gross_base is None


def test_paginator_stops_on_total_count_and_dedupes():
    p = TotalCountPaginator(page_size=2)
    params: dict = {}
    p.init_request(params)
    assert params == {"searchCriteria[pageSize]": "2", "searchCriteria[currentPage]": "1"}
    p.update_state(None, {"items": [{"entity_id": 1}, {"entity_id": 2}], "total_count": 5})
    assert p.has_next_page and [i["entity_id"] for i in p.fresh] == [1, 2]
    p.update_request(params)
    assert params["searchCriteria[currentPage]"] == "2"
    # a row shifted between pages: the repeated id is dropped
    p.update_state(None, {"items": [{"entity_id": 2}, {"entity_id": 3}], "total_count": 5})
    assert [i["entity_id"] for i in p.fresh] == [3] and p.has_next_page
    p.update_request(params)
    p.update_state(None, {"items": [{"entity_id": 4}], "total_count": 5})
    assert not p.has_next_page  # 3 × 2 ≥ 5: page 4 would be the repeated last page


def test_paginator_caps_page_size():
    assert TotalCountPaginator(1000).page_size == 300
