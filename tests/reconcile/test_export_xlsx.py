"""The XLSX export read back by a real spreadsheet reader (openpyxl): numbers are numbers, to the cent."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
from recon_world import World
from test_runs import PERIOD, month

from exactsync.reconcile import differences, export_run, run_reconciliation, vat_by_country


def _table(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:] if any(v is not None for v in r)]


def _cents(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_xlsx_reads_back_with_amounts_as_numbers(store, tmp_path):
    w = World()
    month(w)
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    book = openpyxl.load_workbook(export_run(store, run.run_id, tmp_path / "oktober.xlsx"), read_only=True)
    assert book.sheetnames[:3] == ["Summary", "Differences", "VAT per country"]

    diffs = _table(book["Differences"])
    want = differences(store, run.run_id, limit=100)
    assert len(diffs) == want.height == run.differences
    by_key = {r["result_key"]: r for r in want.iter_rows(named=True)}
    for row in diffs:
        expected = by_key[row["result_key"]]
        assert row["status"] == expected["status"] and row["cause"] == expected["cause"]
        assert isinstance(row["delta_gross"], (int, float)), "amounts must be numbers, not text"
        assert _cents(row["delta_gross"]) == _cents(expected["delta_gross"])

    vat = _table(book["VAT per country"])
    want_vat = vat_by_country(store, run.run_id)
    assert len(vat) == want_vat.height
    assert sum(_cents(r["shop_vat"]) for r in vat if r["shop_vat"] is not None) == \
        sum(_cents(v) for v in want_vat["shop_vat"].drop_nulls().to_list())
