"""The XLSX export read back by a real spreadsheet reader (openpyxl): numbers are numbers, to the cent."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
from recon_world import World
from test_runs import PERIOD, month

from exactsync.labels import column_label as h
from exactsync.labels import kind_label, treatment_label, vat_source_label
from exactsync.reconcile import cause_label, differences, export_run, run_reconciliation, status_label, vat_by_country
from exactsync.reconcile.export import TREATMENT_TITLES


def _table(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:] if any(v is not None for v in r)]


def _cents(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_xlsx_reads_back_with_amounts_as_numbers(store, tmp_path):
    from exactsync.reconcile import vat_code_reading

    from recon_world import DIV

    w = World()
    month(w)
    w.doc(7, "2026-10-06", kind="credit_note")  # a credit note missing in Exact
    w.write(store)
    with store.atomic() as con:  # one Exact VAT code read from the mapping, the others from Exact's codes
        con.execute("INSERT INTO vat_code_map VALUES (?, 'EXP', NULL, 0, 'exempt', 'test')", [DIV])
    run = run_reconciliation(store, w.settings(), PERIOD)
    book = openpyxl.load_workbook(export_run(store, run.run_id, tmp_path / "oktober.xlsx"), read_only=True)
    assert book.sheetnames[:3] == ["Summary", "Differences", "VAT per country"]

    diffs = _table(book["Differences"])
    want = differences(store, run.run_id, limit=100)
    assert len(diffs) == want.height == run.differences
    by_key = {r["result_key"]: r for r in want.iter_rows(named=True)}
    for row in diffs:
        expected = by_key[row["Result key"]]
        # for people: labels, the identifiers kept at the right
        assert (row["Status"], row["Cause"]) == (status_label(expected["status"]), cause_label(expected["cause"]))
        assert (row["Status (identifier)"], row["Cause (identifier)"]) == (expected["status"], expected["cause"])
        assert row["Conditions found"] == "; ".join(status_label(f) for f in expected["flags"])
        assert row["Explanation"] == expected["detail"]
        assert row["Kind"] == kind_label(expected["kind"])  # "Credit note", not credit_note
        assert isinstance(row["Δ gross"], (int, float)), "amounts must be numbers, not text"
        assert _cents(row["Δ gross"]) == _cents(expected["delta_gross"])
    header = next(book["Differences"].iter_rows(values_only=True))
    assert header[:8] == ("Status", "Cause", "Reference (YourRef)", "Shop", "Kind", "Document number", "Document date",
                          "Explanation")
    assert not [c for c in header if c and "_" in c], header  # no column name left unworded
    assert {r["Kind"] for r in diffs} >= {"Credit note", "Invoice"}
    assert not {r["Kind"] for r in diffs} & {"credit_note", "invoice"}

    # where each Exact VAT code was read from, in words; the ZIP keeps the identifiers
    codes = _table(book["VAT codes"])
    reading = vat_code_reading(store, run.run_id)
    assert len(codes) == reading.height and {"vat_code_map", "exact_vat_codes"} <= set(reading["source"].to_list())
    by_code = {(r["division"], r["vat_code"]): r["source"] for r in reading.iter_rows(named=True)}
    assert all(r["Read from"] == vat_source_label(by_code[(r["Division"], r["VAT code"])]) for r in codes)
    assert {r["Read from"] for r in codes} == {"Exact's VAT code", "Your mapping (vat_code_map)"}

    # a division is a code, shown without a thousands separator; amounts keep theirs
    full = openpyxl.load_workbook(tmp_path / "oktober.xlsx")["Differences"]
    column = {c.value: c.column for c in full[1]}
    assert (full.cell(2, column["Division"]).number_format, full.cell(2, column["Δ gross"]).number_format) == (
        "0", "#,##0.00;[Red]-#,##0.00")
    assert full.cell(2, column["Division"]).value == 100001

    vat = _table(book["VAT per country"])
    want_vat = vat_by_country(store, run.run_id)
    assert len(vat) == want_vat.height
    assert [c for c in next(book["VAT per country"].iter_rows(values_only=True)) if c] == \
        [h(c) for c in want_vat.columns]
    assert sum(_cents(r["Shop VAT"]) for r in vat if r["Shop VAT"] is not None) == \
        sum(_cents(v) for v in want_vat["shop_vat"].drop_nulls().to_list())

    # treatments in words, as the VAT page shows them; one sheet per treatment, named by its code
    assert [r["VAT treatment"] for r in vat] == [treatment_label(t) for t in want_vat["treatment"].to_list()]
    assert {"Domestic", "EU distance sales (OSS)"} <= {r["VAT treatment"] for r in vat}, vat
    assert not {r["VAT treatment"] for r in vat} & {"domestic", "oss", "reverse_charge", "export"}
    for code in set(want_vat["treatment"].to_list()):
        sheet = _table(book[TREATMENT_TITLES.get(code, f"VAT {code}")[:31]])
        assert len(sheet) == want_vat.filter(want_vat["treatment"] == code).height
    treated = [r for r in diffs if r.get("VAT treatment")]
    assert treated and all(r["VAT treatment"] == treatment_label(by_key[r["Result key"]]["treatment"]) for r in treated)
    assert all(r["VAT treatment"] != by_key[r["Result key"]]["treatment"] for r in treated)
    book.close()


def test_xlsx_summary_adds_amounts_of_one_currency(store, tmp_path):
    """A GBP document beside EUR ones: the Summary sheet's amounts are the division's (EUR), said
    so in a row of its own, and its total is the sum of the rows' EUR amounts, not EUR + GBP."""
    from recon_world import D, nl

    from exactsync.reconcile import results

    w = World()
    month(w)
    w.book(w.doc(950, currency="GBP", base_currency="EUR", fx=D("0.8"), lines=[nl("80")]))
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    book = openpyxl.load_workbook(export_run(store, run.run_id, tmp_path / "oktober.xlsx"), read_only=True)
    rows = list(book["Summary"].iter_rows(values_only=True))
    book.close()
    items = {r[0]: r[1] for r in rows if r[0] and r[1] is not None}
    assert items["Amounts in"] == "EUR (division currency)" and items["Tolerance (net / VAT / gross)"] == "0.01 / 0.01 / 0.01"
    header = next(i for i, r in enumerate(rows) if r[0] == "Status")
    table = [dict(zip(rows[header], r)) for r in rows[header + 1:] if r[0]]
    total = next(r for r in table if r["Status (identifier)"] == "total")
    assert total["Status"] == "Total" and next(r for r in table if r["Status"] == "Missing in Exact")["Count"] == 1
    saved = results(store, run.run_id)
    assert _cents(total["Shop gross"]) == _cents(sum(saved["shop_gross_dc"].drop_nulls()))
    assert _cents(total["Shop gross"]) != _cents(sum(saved["shop_gross"].drop_nulls()))  # not EUR + GBP


def test_xlsx_summary_gives_the_tolerated_differences_their_own_headings(store, tmp_path):
    """The tolerated amounts stood in the status table under "Exact net / Exact VAT / Exact gross";
    they are a block of their own, headed Rows, Net, VAT, Gross. The ZIP keeps its row as it was."""
    import csv
    import io
    import zipfile

    from recon_world import D, nl

    w = World()
    month(w)
    d = w.doc(8, "2026-10-07", [nl("100.00")])
    w.entry(w.reference(d), "2026-10-07", [("2", D("100.01"), D("21.00"))])  # a cent off: tolerated
    w.write(store)
    run = run_reconciliation(store, w.settings(), PERIOD)
    assert run.tolerated["rows"] >= 1
    book = openpyxl.load_workbook(export_run(store, run.run_id, tmp_path / "o.xlsx"), read_only=True)
    try:
        rows = list(book["Summary"].iter_rows(values_only=True))
    finally:
        book.close()  # a read-only workbook keeps its file open until closed
    start = next(i for i, r in enumerate(rows) if r[0] == "Tolerated differences")
    header = [c for c in rows[start] if c is not None]
    assert header == ["Tolerated differences", "Rows", "Net", "VAT", "Gross"], rows[start]
    block = dict(zip(header, rows[start + 1]))
    assert block["Rows"] == run.tolerated["rows"]
    assert [_cents(block[k]) for k in ("Net", "VAT", "Gross")] == [
        _cents(run.tolerated[k]) for k in ("net", "vat", "gross")]
    status_header = next(i for i, r in enumerate(rows) if r[0] == "Status")
    statuses = [r for r in rows[status_header + 1:start] if r[0]]
    assert statuses[-1][0] == "Total" and not [r for r in statuses if "olerated differences" in str(r[0])]

    export_run(store, run.run_id, tmp_path / "o.zip")
    with zipfile.ZipFile(tmp_path / "o.zip") as z:
        summary = z.read("summary.csv").decode()
    table = list(csv.DictReader(io.StringIO(summary.split("\n\n", 1)[1])))
    tolerated = next(r for r in table if r["status"] == "tolerated")
    assert _cents(tolerated["exact_gross"]) == _cents(run.tolerated["gross"])  # for programs: as before
