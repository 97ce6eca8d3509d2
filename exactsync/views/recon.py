"""Reconciliation views: thin adapters over exactsync.reconcile (runs, differences, detail, VAT)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from exactsync.labels import TREATMENT_LABELS, treatment_label
from exactsync.store import Store
from exactsync.views.base import Page, PAGE_SIZE, _has_table

__all__ = [
    "MATCHED",
    "TREATMENT_SECTIONS",
    "treatment_sections",
    "oss_currency_note",
    "status_label",
    "cause_label",
    "run_info",
    "latest_run_info",
    "has_run",
    "overview",
    "amounts_by_status",
    "status_chart_frame",
    "differences_by_day",
    "count_axis",
    "DiffFilters",
    "difference_choices",
    "differences_page",
    "pushable_keys",
    "result_title",
    "document_detail",
    "vat_table",
    "shop_vat_rows",
    "vat_outside_shops",
    "vat_chart_frame",
    "runs_page",
    "run_changes",
    "export",
]


MATCHED = ("matched", "matched_within_tolerance")


#: (treatment, title) in the order the VAT page shows its sections (words: exactsync.labels)
TREATMENT_SECTIONS = tuple((t, TREATMENT_LABELS[t]) for t in (
    "domestic", "oss", "reverse_charge", "export", "exempt", "mixed", "unknown"))


def treatment_sections(present: Sequence[str]) -> list[tuple[str, str]]:
    """(treatment, title) in :data:`TREATMENT_SECTIONS` order for the treatments present; any other
    treatment comes last under its own name, so no row of a VAT table is ever left out."""
    known = [(t, title) for t, title in TREATMENT_SECTIONS if t in present]
    named = {t for t, _ in TREATMENT_SECTIONS}
    return known + [(t, str(t)) for t in sorted(p for p in present if p not in named and p is not None)]


def oss_currency_note(part: pl.DataFrame) -> str | None:
    """For the OSS section: a reminder when some of its rows are not in EUR (None: all are).

    The OSS return is filed in EUR, with other currencies converted at the ECB rate of the last day
    of the period (Art. 366 of the VAT Directive). exactsync has no ECB rates and converts
    nothing: those rows stay in their own currency."""
    if "currency" not in part.columns:
        return None
    others = sorted({c for c in part["currency"].to_list() if c and c != "EUR"})
    if not others:
        return None
    return (f"Rows in {', '.join(others)} are in their own currency. The OSS return is filed in EUR, converted at "
            f"the ECB rate of the last day of the period; exactsync does not convert them.")


def status_label(status: str | None) -> str:
    from exactsync.reconcile import status_label as label

    return label(status) or "—"


def cause_label(cause: str | None) -> str:
    from exactsync.reconcile import cause_label as label

    return label(cause)


def _run_dict(run: Any, store: Store) -> dict | None:
    if run is None:
        return None
    currency = run.currency
    if currency is None and run.divisions and not run.params.get("division_currencies"):
        # a run saved before it recorded its divisions' currency: the divisions' as pulled
        found = store.rows("SELECT DISTINCT currency FROM exact_divisions WHERE division IN (SELECT unnest(?)) "
                           "AND nullif(currency, '') IS NOT NULL", [list(run.divisions)])
        currency = found[0][0] if len(found) == 1 else None
    return {"run_id": run.run_id, "period": run.period, "created_at": run.created_at, "divisions": run.divisions,
            "shops": run.shops, "totals": run.totals, "by_status": run.by_status, "currency": currency,
            "warnings": list(run.warnings), "exchange_note": run.exchange_note()}


def run_changes(store: Store, run_id: str) -> str | None:
    """What changed since the previous run of the same period, as a sentence (None: no earlier run)."""
    from exactsync.reconcile import compare_runs

    changes = compare_runs(store, run_id)
    return changes.sentence() if changes is not None else None


def run_info(store: Store, run_id: str) -> dict | None:
    """A saved run (run_id, period, created_at, divisions, shops, totals), or None."""
    from exactsync.reconcile import ReconcileError, load_run

    if not _has_table(store, "recon_runs"):
        return None
    try:
        return _run_dict(load_run(store, run_id), store)
    except ReconcileError:
        return None


def latest_run_info(store: Store, *, period: str | None = None, division: int | None = None) -> dict | None:
    """The newest run of the period that covers the division, or None."""
    from exactsync.reconcile import latest_run

    if not _has_table(store, "recon_runs"):
        return None  # nothing reconciled yet
    return _run_dict(latest_run(store, period, division=division), store)


def has_run(store: Store) -> bool:
    """True once any reconciliation run is saved."""
    return latest_run_info(store) is not None


def overview(store: Store, run_id: str, *, shop: str | None = None, division: int | None = None) -> dict:
    """Tiles of the Overview: documents, matched share, differences, their amount and VAT delta.

    ``documents``: the shop documents of the run (the matched share is of them); ``exact_only``: the
    rows of Exact entries without a shop document of the period, which are differences too
    (``differences`` counts every row that is not matched, both kinds).

    In the division's currency (documents come in several; their own amounts added would mean
    nothing): amount of differences = Σ |delta gross DC| (the shop's gross for a document missing
    in Exact, Exact's for an Exact-only entry); VAT difference = Σ delta VAT DC (Exact − shop), both
    over the differences. ``dc_unknown``: differences of documents without an amount in that
    currency (left out of both). ``shop`` / ``division``: the rows of that shop / division only.
    """
    from exactsync.reconcile import rows_filter

    m = ", ".join(f"'{s}'" for s in MATCHED)
    where, params = rows_filter(run_id, shop, division)
    row = store.rows(
        f"""SELECT count(*), count(*) FILTER (WHERE status IN ({m})),
                   count(*) FILTER (WHERE status NOT IN ({m})),
                   coalesce(sum(abs(delta_gross_dc)) FILTER (WHERE status NOT IN ({m})), 0),
                   coalesce(sum(delta_vat_dc) FILTER (WHERE status NOT IN ({m})), 0),
                   count(*) FILTER (WHERE status NOT IN ({m}) AND delta_gross_dc IS NULL),
                   count(*) FILTER (WHERE result_key NOT LIKE 'doc:%')
            FROM recon_result_amounts WHERE {where}""",
        params,
    )[0]
    exact_only = int(row[6])
    docs = int(row[0]) - exact_only
    return {"documents": docs, "exact_only": exact_only, "matched": int(row[1]),
            "matched_share": (row[1] / docs) if docs else 0.0,
            "differences": int(row[2]), "difference_amount": row[3], "vat_difference": row[4],
            "dc_unknown": int(row[5])}


def amounts_by_status(store: Store, run_id: str, *, shop: str | None = None, division: int | None = None) -> pl.DataFrame:
    """Documents and gross amount per status and cause (for the chart and table)."""
    from exactsync.reconcile import amounts_by_status as by_status

    df = by_status(store, run_id, shop=shop, division=division)
    if not df.height:
        return pl.DataFrame(schema={"status_label": pl.String, "cause_label": pl.String, "documents": pl.Int64,
                                    "amount": pl.Decimal(18, 2), "amount_chart": pl.Float64})
    return df.with_columns(
        pl.col("cause_label").fill_null("—"),
        pl.col("amount").cast(pl.Decimal(18, 2)),
        pl.col("amount").cast(pl.Float64).alias("amount_chart"),  # chart axis only; tables show the Decimal
    )


#: one colour per status (and per cause, which shares its label), the same in every chart, so
#: "Missing in Exact" is one colour on the Overview's two charts (Okabe-Ito, safe for colour blindness)
_STATUS_COLOURS = {
    "matched": "#009E73", "matched_within_tolerance": "#88CCEE", "amount_differs": "#E69F00",
    "vat_differs": "#882255", "missing_in_exact": "#D55E00", "only_in_exact": "#0072B2",
    "duplicated_in_exact": "#CC79A7", "other_period": "#56B4E9", "currency_differs": "#8C564B",
    "customer_differs": "#999999", "draft": "#44AA99",
}


def status_colours() -> dict[str, str]:
    """``{status or cause label: colour}`` for Plotly's ``color_discrete_map``."""
    return {status_label(k): v for k, v in _STATUS_COLOURS.items()} | {"—": _STATUS_COLOURS["matched"]}


def count_axis(by_day: pl.DataFrame) -> dict[str, Any]:
    """A Plotly axis for counts of differences per day: whole numbers only (no "1.5 differences"),
    about six ticks at most, from 0."""
    import math

    most = int(by_day.group_by("day").agg(pl.col("differences").sum())["differences"].max() or 0) if by_day.height else 0
    return {"tick0": 0, "dtick": max(1, math.ceil(most / 6)), "tickformat": ",d", "rangemode": "tozero"}


def status_chart_frame(by_status: pl.DataFrame) -> tuple[pl.DataFrame, int, Any]:
    """The rows of :func:`amounts_by_status` the Overview's bar chart draws (the differences), and
    the documents and amount of the matched ones it leaves out (they would dwarf the rest)."""
    from decimal import Decimal

    if not by_status.height:
        return by_status, 0, Decimal(0)
    ok = by_status["status"].is_in(list(MATCHED))
    kept = by_status.filter(ok)
    return by_status.filter(~ok), int(kept["documents"].sum()), sum(kept["amount"].drop_nulls().to_list(), Decimal(0))


def differences_by_day(store: Store, run_id: str, *, shop: str | None = None, division: int | None = None) -> pl.DataFrame:
    from exactsync.reconcile import differences_by_day as by_day

    return by_day(store, run_id, shop=shop, division=division)


@dataclass(frozen=True)
class DiffFilters:
    """Filters of the Differences page (hashable tuples: part of the cache key)."""

    statuses: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    #: conditions found on a row, as its status or besides it
    conditions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    min_amount: str | None = None
    shop: str | None = None
    search: str | None = None
    #: the sidebar's division: that administration's rows only
    division: int | None = None

    def library(self, **override: Any) -> Any:
        from exactsync.reconcile import DiffFilters as LibFilters

        kw = dict(statuses=self.statuses, causes=self.causes, conditions=self.conditions, countries=self.countries,
                  min_amount=self.min_amount or None, shops=(self.shop,) if self.shop else (), search=self.search or None,
                  divisions=(self.division,) if self.division is not None else ())
        kw.update(override)
        return LibFilters(**kw)


def difference_choices(store: Store, run_id: str) -> dict[str, list[str]]:
    """Values the filters offer: statuses, causes, conditions found (in precedence order) and
    countries among the run's differences."""
    m = ", ".join(f"'{s}'" for s in MATCHED)
    out: dict[str, list[str]] = {}
    with store.read() as con:
        for key, col in (("statuses", "status"), ("causes", "cause"), ("countries", "vat_country")):
            rows = con.execute(f"SELECT DISTINCT {col} FROM recon_results WHERE run_id = ? AND {col} IS NOT NULL "
                               f"AND status NOT IN ({m}) ORDER BY 1", [run_id]).fetchall()
            out[key] = [r[0] for r in rows]
        found = {r[0] for r in con.execute(
            f"SELECT DISTINCT unnest(flags) FROM recon_results WHERE run_id = ? AND status NOT IN ({m})",
            [run_id]).fetchall()}
    from exactsync.reconcile.constants import PRECEDENCE

    out["conditions"] = [s for s in PRECEDENCE if s in found]
    return out


#: the grid's columns, in this order: what identifies a row and its amounts first (in view without
#: scrolling), then what else was found, the country, the entries and the explanation
_SHOWN = ["result_key", "status_label", "your_ref", "doc_date", "shop", "currency", "shop_gross", "exact_gross",
          "delta_gross", "delta_gross_dc", "delta_vat", "also_label", "vat_country", "entry_numbers", "detail"]


_SHOWN_AS = {"status_label": "status", "also_label": "also", "your_ref": "reference", "doc_date": "date",
             "vat_country": "country", "delta_gross": "difference", "delta_gross_dc": "difference_dc",
             "delta_vat": "vat_difference",
             "entry_numbers": "exact_entries"}


def differences_page(store: Store, run_id: str, filters: DiffFilters, *, limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """One page of the run's differences, largest first (only ``limit`` rows leave the database)."""
    from exactsync.reconcile import count_differences, differences

    lib = filters.library()
    total = count_differences(store, run_id, lib)
    frame = differences(store, run_id, lib, limit=limit, offset=offset)
    money = [c for c in ("shop_gross", "exact_gross", "delta_gross", "delta_gross_dc", "delta_vat") if c in frame.columns]
    frame = frame.with_columns([pl.col(c).cast(pl.Decimal(18, 2)) for c in money])
    if frame.height and {"doc_date", "entry_date", "currency", "exact_currency"} <= set(frame.columns):
        # a row without a shop document (only in Exact, or booked in another period) shows its
        # entry's date and currency, and 0 on the side that has nothing, instead of empty cells
        frame = frame.with_columns(
            pl.coalesce("doc_date", "entry_date").alias("doc_date"),
            pl.coalesce("currency", "exact_currency").alias("currency"),
            *[pl.col(c).fill_null(0).cast(pl.Decimal(18, 2)) for c in ("shop_gross", "exact_gross") if c in frame.columns],
            *[pl.col(c).fill_null("") for c in ("shop", "your_ref", "vat_country", "detail") if c in frame.columns],
        )
    rows = frame.select([c for c in _SHOWN if c in frame.columns]).rename(_SHOWN_AS, strict=False)
    return Page(rows=rows, total=total, offset=offset, limit=limit)


def pushable_keys(store: Store, run_id: str, filters: DiffFilters, limit: int = 10000) -> list[str]:
    """Result keys in the filter whose status push can act on (create, correct, reverse)."""
    from exactsync.push.plan import PUSHABLE_STATUSES
    from exactsync.reconcile import differences

    statuses = tuple(s for s in (filters.statuses or PUSHABLE_STATUSES) if s in PUSHABLE_STATUSES)
    if not statuses:
        return []
    frame = differences(store, run_id, filters.library(statuses=statuses), limit=limit)
    return sorted(frame["result_key"].to_list()) if frame.height else []


def result_title(rows: pl.DataFrame, key: str) -> str:
    """How a result is named in the drill-down picker."""
    hit = rows.filter(pl.col("result_key") == key)
    if not hit.height:
        return key
    r = hit.row(0, named=True)
    entries = r.get("exact_entries")
    if isinstance(entries, (list, tuple)):
        entries = ", ".join(map(str, entries))
    # an entry without a YourRef is named by its entry number, not by the internal key
    name = r.get("reference") or (f"entry {entries} (no reference)" if entries else "no reference")
    return f"{name} · {r.get('status')} · {r.get('shop') or 'Exact only'}"


def _frame_t(df: pl.DataFrame | None, columns: Sequence[str]) -> pl.DataFrame | None:
    """One record as (field, value) rows, for a side-by-side drill-down."""
    if df is None or not df.height:
        return None
    from exactsync.labels import column_label

    r = _worded(df.select([c for c in columns if c in df.columns])).row(0, named=True)
    return pl.DataFrame({"field": [column_label(c) for c in r], "value": ["" if v is None else str(v) for v in r.values()]})


def _worded(frame: pl.DataFrame | None) -> pl.DataFrame | None:
    """``frame`` with its ``treatment`` column in words ("Intra-EU B2B (reverse charge)", not
    ``reverse_charge``): the drill-down is read by people."""
    if frame is None or "treatment" not in frame.columns:
        return frame
    return frame.with_columns(pl.col("treatment").map_elements(treatment_label, return_dtype=pl.String))


_SHOP_FIELDS = ("doc_key", "shop", "kind", "doc_number", "order_number", "doc_date", "currency", "customer_name",
                "company", "vat_country", "vat_number", "treatment", "net", "vat", "gross", "status")


_ENTRY_FIELDS = ("entry_number", "journal_code", "your_ref", "description", "entry_date", "fin_year", "fin_period",
                 "currency", "customer_code", "customer_name", "net", "vat", "gross", "status", "type")


def document_detail(store: Store, run_id: str, result_key: str) -> dict | None:
    """Both sides of one result for the drill-down: the shop document (fields + VAT lines) and the
    Exact entries (+ VAT code and G/L lines), with the status, cause and the run's explanation."""
    from exactsync.reconcile import document_detail as detail

    d = detail(store, run_id, result_key)
    if d is None:
        return None
    lines = d["shop_lines"]
    exact = d["exact"]
    exact_lines = d["exact_lines"]
    return {
        "status": d["status"], "cause": d["cause"], "status_label": d["status_label"],
        "cause_label": d["cause_label"], "explanation": d["explanation"], "flags": d["flags"],
        "shop": _frame_t(d["shop"], _SHOP_FIELDS),
        "shop_lines": _worded(lines.select([c for c in ("line_type", "tax_class", "country", "rate", "treatment", "base", "vat")
                                            if c in lines.columns])) if lines is not None else None,
        "exact": exact.select([c for c in _ENTRY_FIELDS if c in exact.columns]) if exact is not None and exact.height else None,
        "exact_lines": _entry_lines(exact_lines, exact),
        "comparison": _worded(_comparison(d.get("vat_comparison"))),
    }


def _entry_lines(lines: pl.DataFrame | None, entries: pl.DataFrame | None) -> pl.DataFrame | None:
    """The Exact VAT and G/L lines as the drill-down shows them: each named by its entry's number
    (the one the entry table beside it shows), not by the 36-character entry id."""
    if lines is None:
        return None
    if entries is not None and {"entry_id", "entry_number"} <= set(entries.columns) and "entry_id" in lines.columns:
        numbers = entries.select(pl.col("entry_id").cast(pl.String), "entry_number").unique("entry_id")
        lines = lines.with_columns(pl.col("entry_id").cast(pl.String)).join(numbers, on="entry_id", how="left", maintain_order="left")
    name = "entry_number" if "entry_number" in lines.columns else "entry_id"
    return _worded(lines.select([c for c in (name, "vat_code", "gl_account_code", "vat_percentage", "treatment",
                                             "mapped_country", "base", "vat") if c in lines.columns]))


_DC_PAIRS = tuple((f"{side}_{amount}", f"{side}_{amount}_dc")
                  for side in ("shop", "exact", "delta") for amount in ("base", "vat"))


def _comparison(frame: pl.DataFrame | None) -> pl.DataFrame | None:
    """The per-bucket comparison; its division-currency columns only where they say something else."""
    if frame is None or not frame.height or not all(dc in frame.columns for _, dc in _DC_PAIRS):
        return frame
    same = all(frame.select((pl.col(fc).eq_missing(pl.col(dc))).all()).item() for fc, dc in _DC_PAIRS)
    return frame.drop([dc for _, dc in _DC_PAIRS]) if same else frame


def vat_table(store: Store, run_id: str, *, division: int | None = None, shop: str | None = None) -> pl.DataFrame:
    """The OSS-shaped table of a run: treatment, country, rate, currency; base and VAT in the shop and
    in Exact; deltas (Exact − shop); entries of these documents booked in other periods apart.

    Without ``shop``: every shop of the run plus the Exact entries that belong to no shop document.
    With ``shop``: that shop's documents and the Exact entries the run matched to them, as saved
    (``recon_vat.shop``; :func:`vat_outside_shops` counts what no shop has).
    """
    from exactsync.reconcile import vat_by_country

    df = vat_by_country(store, run_id, division=division, shop=shop or None)
    if division is not None:
        df = df.drop("division")  # the page shows one division, named in its caption
    money = [c for c in df.columns if c.endswith(("_base", "_vat"))]
    return df.with_columns([pl.col(c).cast(pl.Decimal(18, 2)) for c in money] +
                           [pl.col("country").fill_null(""), pl.col("rate").cast(pl.Decimal(7, 2))])


_VAT_ROWS = {"scope": pl.String, "division": pl.Int32, "currency": pl.String, "treatment": pl.String,
             "country": pl.String, "rate": pl.Decimal(7, 4), "base": pl.Decimal(18, 4), "vat": pl.Decimal(18, 4),
             "documents": pl.Int64}


def shop_vat_rows(store: Store, run_id: str, *, shop: str | None, division: int | None = None) -> pl.DataFrame:
    """The run's saved ``recon_vat`` rows (scope, division, currency, treatment, country, rate, base,
    vat, documents) of one shop; ``shop=None`` = the Exact entries of no shop document."""
    where, params = ["run_id = ?", "shop IS NULL" if shop is None else "shop = ?"], [run_id]
    if shop is not None:
        params.append(shop)
    if division is not None:
        where.append("division = ?")
        params.append(int(division))
    frame = store.query(f"SELECT {', '.join(_VAT_ROWS)} FROM recon_vat WHERE {' AND '.join(where)} "
                        "ORDER BY scope, division, currency, treatment, country, rate", params)
    return frame.cast(_VAT_ROWS) if frame.height else pl.DataFrame(schema=_VAT_ROWS)


def vat_outside_shops(store: Store, run_id: str, *, division: int | None = None) -> pl.DataFrame:
    """Per currency: the run's Exact bookings that belong to no shop document (only in Exact) —
    what a one-shop VAT table leaves out (rows, entries, Exact VAT)."""
    where, params = ("run_id = ? AND shop IS NULL AND division = ?", [run_id, int(division)]) \
        if division is not None else ("run_id = ? AND shop IS NULL", [run_id])
    return store.query(
        f"""SELECT coalesce(exact_currency, currency) AS currency, count(*) AS results,
                   CAST(coalesce(sum(entry_count), 0) AS BIGINT) AS entries,
                   CAST(coalesce(sum(exact_vat), 0) AS DECIMAL(18,2)) AS exact_vat
            FROM recon_results WHERE {where} GROUP BY 1 ORDER BY 1""", params)


def vat_chart_frame(table: pl.DataFrame) -> pl.DataFrame:
    """VAT per country, shop vs Exact, long format with float amounts (chart axis only). With rows in
    several currencies a bar is one country in one currency (``SE SEK``): amounts of different
    currencies are never added."""
    if "currency" in table.columns and table["currency"].n_unique() > 1:
        table = table.with_columns(pl.concat_str([pl.col("country").fill_null("?"), pl.col("currency").fill_null("?")],
                                                 separator=" ").alias("country"))
    wide = table.group_by("country").agg(pl.col("shop_vat").sum().alias("Shop"), pl.col("exact_vat").sum().alias("Exact"))
    return (wide.unpivot(index="country", variable_name="side", value_name="vat")
            .with_columns(pl.col("vat").cast(pl.Float64)).sort("country", "side"))


def runs_page(store: Store, *, limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """Saved reconciliation runs, newest first."""
    from exactsync.reconcile import Tolerance, count_runs, list_runs

    if not _has_table(store, "recon_runs"):
        return Page(rows=pl.DataFrame(), total=0, offset=0, limit=limit)
    total = count_runs(store)
    rows = list_runs(store, limit=limit, offset=offset)
    return Page(rows=rows.with_columns(pl.Series("tolerance_text", [Tolerance.text(t) for t in rows["tolerance"]],
                                                 dtype=pl.String)),
                total=total, offset=offset, limit=limit)


def export(store: Store, run_id: str, path: Path) -> Path:
    """Write the run to ``path`` (.xlsx or .csv) with the reconciliation's own exporter."""
    from exactsync.reconcile import export_run

    export_run(store, run_id, path)
    return Path(path)
