"""Export a saved run: an XLSX workbook, one CSV of all results, or a ZIP of CSV files.

By the suffix of ``path``:

* ``.xlsx`` — sheets *Summary* (parameters, per status counts and amounts, totals, tolerated),
  *Differences* (every row that is not matched, with status, cause, amounts, deltas and the
  sentence), *VAT per country* (shop vs Exact per treatment, country and rate) and one sheet per
  treatment (*VAT domestic*, *VAT OSS*, *VAT reverse charge*, *VAT export*, …), and *VAT codes*
  (how each Exact VAT code was read);
* ``.csv`` — one file: every result row of the run (matched included);
* ``.zip`` — the workbook's sheets as CSV files (``summary.csv``, ``differences.csv``,
  ``results.csv``, ``vat_by_country.csv``, ``vat_codes.csv``).

Lists (entry ids, flags) become ``;``-separated text; amounts keep their 4 decimals (Excel shows
them with a 2-decimal number format).

The workbook is for people: its columns are headed in words (:mod:`exactsync.labels`), and the
*Differences* sheet gives status, cause and conditions as labels, with what an accountant reads
first (status, reference, document, explanation, amounts) on the left and the identifiers (status
and cause codes, keys, entry ids) on the right. CSV and ZIP keep the column names and identifiers:
they are read by programs.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import polars as pl

from exactsync.errors import EXIT_FAILURE, ExactsyncError
from exactsync.labels import column_label, kind_label, readable, treatment_label, vat_source_label
from exactsync.reconcile.constants import OK_STATUSES, PRECEDENCE, cause_label, status_label
from exactsync.reconcile.engine import ReconcileError
from exactsync.reconcile.runs import load_run, results, vat_by_country, vat_code_reading

__all__ = ["export_run", "check_export_path", "EXPORT_SUFFIXES", "TREATMENT_TITLES"]

EXPORT_SUFFIXES = (".xlsx", ".csv", ".zip")
TREATMENT_TITLES = {
    "domestic": "VAT domestic",
    "oss": "VAT OSS",
    "reverse_charge": "VAT reverse charge",
    "export": "VAT export",
    "exempt": "VAT exempt",
    "unknown": "VAT unknown codes",
}
_MAX_XLSX_ROWS = 1_048_575


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists → text, so CSV and XLSX writers accept every column."""
    out = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            out.append(pl.col(name).cast(pl.List(pl.String)).list.join(";").alias(name))
    return frame.with_columns(out) if out else frame


def _summary_frame(store: Any, run_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    run = load_run(store, run_id)
    rows: list[dict[str, Any]] = [
        {"item": "run", "value": run.run_id},
        {"item": "reconciled at (UTC)", "value": run.created_at.isoformat(sep=" ", timespec="seconds")},
        {"item": "period", "value": run.period},
        {"item": "divisions", "value": ", ".join(str(d) for d in run.divisions)},
        {"item": "shops", "value": ", ".join(run.shops)},
        {"item": "tolerance (net / VAT / gross)", "value": run.tolerance_text},
        {"item": "engine version", "value": run.engine_version},
    ]
    # the amounts: in the division's currency (documents come in several currencies; their own
    # amounts added up would mean nothing). Runs saved before engine version 3 have only the
    # document-currency sums; those are shown, and said to be.
    dc = "shop_gross_dc" in run.totals
    cur = run.currency or "the division's currency"
    rows.append({"item": "amounts in", "value": f"{cur} (division currency)" if dc else
                 "each document's own currency, added as they are (run saved before amounts in the division's currency)"})
    if dc and run.totals.get("dc_unknown"):
        rows.append({"item": f"documents without an amount in {cur}",
                     "value": f"{run.totals['dc_unknown']} (left out of the shop amounts; see Differences)"})
    if note := run.exchange_note():  # matched documents in another currency: the exchange-rate difference
        rows.append({"item": "exchange rates", "value": note})
    rows.extend({"item": "warning", "value": w} for w in run.warnings)  # e.g. a shop not pulled since the period ended
    meta = pl.DataFrame(rows, schema={"item": pl.String, "value": pl.String})
    keys = ("shop_net", "shop_vat", "shop_gross", "exact_net", "exact_vat", "exact_gross")
    src = {k: f"{k}_dc" if dc else k for k in keys}
    lines = []
    for status in PRECEDENCE:
        s = run.by_status.get(status, {"count": 0})
        lines.append({"status": status, "label": status_label(status), "count": int(s.get("count", 0)),
                      **{k: str(s.get(src[k], "0")) for k in keys}})
    t = run.totals
    lines.append({"status": "total", "label": "Total", "count": int(t.get("results", 0)),
                  **{k: str(t.get(src[k], "0")) for k in keys}})
    tol = run.tolerated
    lines.append({"status": "tolerated", "label": f"Tolerated differences ({tol.get('rows', 0)} rows, document currency)",
                  "count": None, "shop_net": None, "shop_vat": None, "shop_gross": None,
                  "exact_net": str(tol.get("net", "0")), "exact_vat": str(tol.get("vat", "0")),
                  "exact_gross": str(tol.get("gross", "0"))})
    table = pl.DataFrame(lines).with_columns([pl.col(c).cast(pl.Decimal(18, 4)) for c in keys])
    return meta, table


#: the Differences sheet's first columns, in this order (the rest follow as the run has them)
_DIFF_FIRST = ("status", "cause", "your_ref", "shop", "kind", "doc_number", "doc_date", "detail", "currency",
               "shop_gross", "exact_gross", "delta_gross", "delta_net", "delta_vat", "delta_gross_dc")


def _for_people(diffs: pl.DataFrame) -> pl.DataFrame:
    """The Differences sheet as an accountant reads it: labels for status, cause and conditions,
    the identifiers kept at the right (``status_code``, ``cause_code``)."""
    def labels(names: str | None) -> str | None:
        return None if names is None else "; ".join(status_label(n) for n in names.split(";") if n)

    frame = _treatment_words(diffs.with_columns(
        pl.col("status").alias("status_code"), pl.col("cause").alias("cause_code"),
        pl.col("status").map_elements(status_label, return_dtype=pl.String),
        pl.col("cause").map_elements(cause_label, return_dtype=pl.String, skip_nulls=False),
        pl.col("flags").map_elements(labels, return_dtype=pl.String),
        pl.col("kind").map_elements(kind_label, return_dtype=pl.String),  # "Credit note", not credit_note
    ))
    first = [c for c in _DIFF_FIRST if c in frame.columns]
    return frame.select(first + [c for c in frame.columns if c not in first])


def _source_words(frame: pl.DataFrame) -> pl.DataFrame:
    """The VAT codes sheet with where each code was read from in words (exactsync.labels)."""
    if "source" not in frame.columns:
        return frame
    return frame.with_columns(pl.col("source").map_elements(vat_source_label, return_dtype=pl.String))


def _tolerated_frame(tolerated: dict[str, Any]) -> pl.DataFrame:
    """The Summary sheet's block of tolerated differences under headings of its own (rows, net, VAT,
    gross: what the tolerance let through, each row in its document's currency)."""
    return pl.DataFrame([{"tolerated": "Within tolerance (in each document's currency)",
                          "rows": int(tolerated.get("rows", 0)),
                          **{k: str(tolerated.get(k, "0")) for k in ("net", "vat", "gross")}}]).with_columns(
        [pl.col(c).cast(pl.Decimal(18, 4)) for c in ("net", "vat", "gross")])


def _treatment_words(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its ``treatment`` column in words (exactsync.labels), for the XLSX sheets."""
    if "treatment" not in frame.columns:
        return frame
    return frame.with_columns(pl.col("treatment").map_elements(treatment_label, return_dtype=pl.String))


def _sheets(store: Any, run_id: str) -> dict[str, pl.DataFrame]:
    all_rows = _flat(results(store, run_id))
    diffs = all_rows.filter(~pl.col("status").is_in(list(OK_STATUSES)))
    vat = vat_by_country(store, run_id)
    return {"results": all_rows, "differences": diffs, "vat_by_country": vat,
            "vat_codes": vat_code_reading(store, run_id)}


def check_export_path(path: str | Path) -> Path:
    """``path`` if a run can be exported there (a known suffix, a folder that is one or can be made
    and that may be written in, not a folder itself); else :class:`ReconcileError` saying why.
    Checked before a run is made, so ``reconcile --export`` with a bad path fails before any work."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ReconcileError(f"cannot export to {path.name}: use one of {', '.join(EXPORT_SUFFIXES)}")
    if path.is_dir():
        raise ReconcileError(f"cannot export to {path}: it is a folder")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists: the export makes the rest
    if not folder.is_dir():
        raise ReconcileError(f"cannot export to {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ReconcileError(f"cannot export to {path}: no permission to write in {folder}")
    return path


def export_run(store: Any, run_id: str, path: str | Path) -> Path:
    """Write the run to ``path`` (format by suffix, see the module docstring); returns the path.

    The file is written next to ``path`` under a temporary name and then renamed, so a failed export
    leaves no half-written file (nor replaces a good one); a file that cannot be written is an
    :class:`~exactsync.errors.ExactsyncError` naming it and why, not a traceback."""
    path = check_export_path(path)
    load_run(store, run_id)  # unknown run → clear error before any file is written
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(store, run_id, partial, path.suffix.lower())
        os.replace(partial, path)
    except Exception as e:
        partial.unlink(missing_ok=True)
        reason = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)).replace(str(partial), str(path))
        if isinstance(e, OSError) or type(e).__module__.startswith("xlsxwriter"):
            raise ExactsyncError(f"cannot write the export {path}: {reason}", exit_code=EXIT_FAILURE) from None
        raise
    return path


def _write(store: Any, run_id: str, path: Path, suffix: str) -> None:
    if suffix == ".csv":
        _flat(results(store, run_id)).write_csv(path)
        return
    meta, table = _summary_frame(store, run_id)
    sheets = _sheets(store, run_id)
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            buf = io.StringIO()
            buf.write(meta.write_csv())
            buf.write("\n")
            buf.write(table.write_csv())
            z.writestr("summary.csv", buf.getvalue())
            for name in ("differences", "results", "vat_by_country", "vat_codes"):
                z.writestr(f"{name}.csv", sheets[name].write_csv())
        return
    _write_xlsx(path, meta, table, sheets, load_run(store, run_id).tolerated)


def _write_xlsx(path: Path, meta: pl.DataFrame, table: pl.DataFrame, sheets: dict[str, pl.DataFrame],
                tolerated: dict[str, Any] | None = None) -> None:
    import xlsxwriter

    money = {"num_format": "#,##0.00;[Red]-#,##0.00"}
    code = {"num_format": "0"}  # a division is a code: 700001, not 700,001 as Polars writes integers
    codes_named = {column_label("division")}

    def money_formats(frame: pl.DataFrame) -> dict[str, dict]:
        return {**{c: money for c, t in frame.schema.items() if isinstance(t, pl.Decimal)},
                **{c: code for c in frame.columns if c in codes_named}}

    def to_excel(frame: pl.DataFrame) -> pl.DataFrame:
        # xlsxwriter writes numbers; Decimals become floats only here, in the presentation copy
        return frame.with_columns([pl.col(c).cast(pl.Float64) for c, t in frame.schema.items()
                                   if isinstance(t, pl.Decimal)])

    def headed(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.rename(readable(frame.columns))

    # the items as a sentence starts ("Amounts in", "Exchange rates"); the ZIP keeps them as they are
    meta = headed(meta.with_columns(pl.col("item").str.slice(0, 1).str.to_uppercase() + pl.col("item").str.slice(1)))
    # the tolerated differences are no status: a block of their own below (the ZIP keeps them as a row)
    table = table.filter(pl.col("status") != "tolerated").rename({"status": "status_code", "label": "status"})
    tolerated_block = headed(_tolerated_frame(tolerated or {}))
    table = headed(table.select("status", *[c for c in table.columns if c not in ("status", "status_code")], "status_code"))
    by_code = sheets["vat_by_country"]  # treatment codes: one sheet per treatment is split by them
    sheets = {**sheets, "differences": headed(_for_people(sheets["differences"])),
              "vat_by_country": headed(_treatment_words(sheets["vat_by_country"])),
              "vat_codes": headed(_source_words(_treatment_words(sheets["vat_codes"])))}

    with xlsxwriter.Workbook(str(path)) as wb:
        ws = wb.add_worksheet("Summary")
        meta.write_excel(workbook=wb, worksheet=ws, position="A1", autofit=True, table_style="Table Style Light 1")
        start = meta.height + 3
        to_excel(table).write_excel(workbook=wb, worksheet=ws, position=(start, 0), autofit=True,
                                    column_formats=money_formats(table), table_style="Table Style Light 9")
        to_excel(tolerated_block).write_excel(workbook=wb, worksheet=ws, position=(start + table.height + 3, 0),
                                              autofit=True, column_formats=money_formats(tolerated_block),
                                              table_style="Table Style Light 1")
        diffs = sheets["differences"]
        truncated = diffs.height > _MAX_XLSX_ROWS
        diffs = diffs.head(_MAX_XLSX_ROWS)
        ws = wb.add_worksheet("Differences")
        if diffs.height:
            to_excel(diffs).write_excel(workbook=wb, worksheet=ws, autofit=True, column_formats=money_formats(diffs),
                                        table_style="Table Style Light 9", freeze_panes=(1, 0))
        else:
            ws.write(0, 0, "No differences in this run.")
        if truncated:
            ws.write(diffs.height + 2, 0, "Truncated: Excel holds about a million rows; export CSV for all.")
        vat = sheets["vat_by_country"]
        ws = wb.add_worksheet("VAT per country")
        if vat.height:
            to_excel(vat).write_excel(workbook=wb, worksheet=ws, autofit=True, column_formats=money_formats(vat),
                                      table_style="Table Style Light 9", freeze_panes=(1, 0))
        else:
            ws.write(0, 0, "No VAT lines in this run.")
        for treatment in by_code["treatment"].unique(maintain_order=True).to_list() if by_code.height else []:
            part = headed(by_code.filter(pl.col("treatment").eq_missing(treatment)).drop("treatment"))
            title = TREATMENT_TITLES.get(treatment, f"VAT {treatment}")[:31]
            ws = wb.add_worksheet(title)
            to_excel(part).write_excel(workbook=wb, worksheet=ws, autofit=True, column_formats=money_formats(part),
                                       table_style="Table Style Light 9", freeze_panes=(1, 0))
        codes = sheets["vat_codes"]
        ws = wb.add_worksheet("VAT codes")
        if codes.height:
            codes.with_columns(pl.col(column_label("rate")).cast(pl.Float64)).write_excel(
                workbook=wb, worksheet=ws, autofit=True, table_style="Table Style Light 1",
                column_formats=money_formats(codes.drop(column_label("rate"))))
        else:
            ws.write(0, 0, "No VAT codes in this run.")
