"""The XLSX export opened by LibreOffice Calc itself (headless) and saved again by it: every sheet
survives, amounts are still numbers and dates still dates, to the cent of the run. openpyxl alone
(test_export_xlsx.py) reads the file exactsync wrote; this checks that a real spreadsheet program
accepts it and reads the same thing."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal

import openpyxl
from recon_world import D, World, nl
from test_runs import PERIOD, month

from exactsync.labels import column_label
from exactsync.reconcile import differences, export_run, run_reconciliation, status_label, vat_by_country


def _as_libreoffice_saves_it(soffice: str, xlsx, tmp_path):
    out = tmp_path / "calc"
    done = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--norestore",
         "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(xlsx)],
        capture_output=True, text=True, timeout=180,
    )
    saved = out / xlsx.name
    assert done.returncode == 0 and saved.exists(), done.stdout + done.stderr
    return openpyxl.load_workbook(saved, read_only=True)


def _table(ws, first: str) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r and r[0] == first)
    return [dict(zip(rows[start], r)) for r in rows[start + 1:] if any(v is not None for v in r)]


def _cents(value) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"))


def test_libreoffice_opens_every_sheet_with_the_runs_numbers(store, tmp_path, soffice):
    w = World()
    month(w)
    w.book(w.doc(950, currency="GBP", base_currency="EUR", fx=D("0.8"), lines=[nl("80")]))
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    xlsx = export_run(store, run.run_id, tmp_path / "oktober.xlsx")

    book = _as_libreoffice_saves_it(soffice, xlsx, tmp_path)
    assert book.sheetnames == openpyxl.load_workbook(xlsx, read_only=True).sheetnames

    summary = {r["Status (identifier)"]: r for r in _table(book["Summary"], "Status")}
    assert summary["total"]["Count"] == sum(run.counts.values())
    assert _cents(summary["total"]["Shop gross"]) == _cents(run.totals["shop_gross_dc"])
    for status, count in run.counts.items():
        if count:
            assert summary[status]["Count"] == count
            assert _cents(summary[status]["Exact gross"]) == _cents(run.by_status[status]["exact_gross_dc"])

    diffs = _table(book["Differences"], "Status")
    want = {r["result_key"]: r for r in differences(store, run.run_id, limit=100).iter_rows(named=True)}
    assert len(diffs) == len(want) == run.differences
    for row in diffs:
        expected = want[row["Result key"]]
        assert row["Status (identifier)"] == expected["status"] and row["Status"] == status_label(expected["status"])
        assert isinstance(row["Δ gross"], (int, float)), "amounts stay numbers in Calc"
        assert _cents(row["Δ gross"]) == _cents(expected["delta_gross"])
        if expected["doc_date"] is not None:
            assert isinstance(row["Document date"], dt.datetime), "dates stay dates in Calc"
            assert row["Document date"].date() == expected["doc_date"]

    want_vat = vat_by_country(store, run.run_id)
    vat = _table(book["VAT per country"], column_label(want_vat.columns[0]))
    assert len(vat) == want_vat.height
    assert sum(_cents(r["Shop VAT"]) for r in vat) == sum(_cents(v) for v in want_vat["shop_vat"].drop_nulls())
