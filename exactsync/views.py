"""Read models for the dashboard: small, paged queries over the store (no Streamlit here).

Pages never build SQL; they call these functions (or the reconcile / push libraries directly).
Every list query is paged in SQL (``LIMIT``/``OFFSET``), so a page never holds more than one
page of rows, whatever the size of the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from exactsync.store import Store

__all__ = [
    "Page",
    "paged",
    "PAGE_SIZE",
    "last_pulls",
    "available_periods",
    "available_divisions",
    "api_calls_page",
    "sync_log_page",
    "period_bounds",
    "SHOP_PULLERS",
    "pull_all",
    "has_run",
    "refresh",
    "fmt_money",
    "fmt_age",
    "exact_settings_view",
    "shop_settings_view",
    "exact_authorize_url",
    "exact_token_status",
    "test_exact",
    "exact_headroom",
    "test_shop",
    "mapping_columns",
    "mapping_frame",
    "JOB_STATUSES",
    "fmt_eta",
    "PushPreview",
    "PushResult",
    "plan",
    "execute_push",
    "retry",
    "job_counts",
    "jobs_page",
    "failed_job_ids",
    "MATCHED",
    "TREATMENT_SECTIONS",
    "status_label",
    "cause_label",
    "run_info",
    "latest_run_info",
    "overview",
    "amounts_by_status",
    "differences_by_day",
    "DiffFilters",
    "difference_choices",
    "differences_page",
    "pushable_keys",
    "result_title",
    "document_detail",
    "vat_table",
    "runs_page",
    "vat_chart_frame",
    "export",
    "demo_mapping_frames",
    "seed_demo_mappings",
]

#: rows sent to the browser per table page
PAGE_SIZE = 50


@dataclass
class Page:
    """One page of a larger result: ``rows`` plus what is needed to page through the rest."""

    rows: pl.DataFrame
    total: int
    offset: int = 0
    limit: int = PAGE_SIZE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit)) if self.limit else 1

    @property
    def number(self) -> int:
        """1-based number of this page."""
        return self.offset // self.limit + 1 if self.limit else 1


def paged(store: Store, sql: str, params: Sequence[Any] | None = None, *, limit: int = PAGE_SIZE,
          offset: int = 0, order_by: str = "1") -> Page:
    """``sql`` (a SELECT without ORDER BY/LIMIT) as one page; the count runs in the same read."""
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    params = list(params or [])
    with store.read() as con:
        total = con.execute(f"SELECT count(*) FROM ({sql}) AS q", params).fetchall()[0][0]
        rows = _frame(con, f"SELECT * FROM ({sql}) AS q ORDER BY {order_by} LIMIT ? OFFSET ?",
                      [*params, limit, offset])
    return Page(rows=rows, total=int(total), offset=offset, limit=limit)


def _frame(con: Any, sql: str, params: Sequence[Any]) -> pl.DataFrame:
    """A parameterised query as a Polars frame (fully drained)."""
    return con.sql(sql, params=list(params)).pl()


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """``"2026-10"`` → (first day, first day of the next month)."""
    try:
        year, month = (int(p) for p in period.split("-"))
        start = dt.date(year, month, 1)
    except (ValueError, AttributeError):
        raise ValueError(f"period must look like 2026-10, not {period!r}") from None
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def last_pulls(store: Store) -> pl.DataFrame:
    """Last successful pull per source: each shop, and Exact per division (oldest part counts)."""
    return store.query(
        """
        SELECT CASE WHEN source LIKE 'shop:%' THEN split_part(source, ':', 2)
                    ELSE 'Exact ' || coalesce(scope, '') END AS source,
               min(last_success_at) AS last_success_at, max(last_attempt_at) AS last_attempt_at,
               sum(coalesce(rows_total, 0))::BIGINT AS rows
        FROM sync_state
        WHERE source LIKE 'shop:%' OR source = 'exact:transaction_lines'
        GROUP BY 1 ORDER BY 1
        """
    )


def available_periods(store: Store) -> list[str]:
    """Months (YYYY-MM) with shop documents (else Exact entries); the busiest month first (the
    default pick), then the others newest first."""
    rows = store.rows(
        """
        WITH m AS (
            SELECT strftime(doc_date, '%Y-%m') AS p, count(*) AS n FROM shop_documents
            WHERE doc_date IS NOT NULL GROUP BY 1
            UNION ALL
            SELECT strftime(entry_date, '%Y-%m'), 0 FROM exact_entries WHERE entry_date IS NOT NULL GROUP BY 1
        ), t AS (SELECT p, sum(n) AS n FROM m GROUP BY p)
        SELECT p FROM t ORDER BY (n = (SELECT max(n) FROM t)) DESC, p DESC
        """
    )
    return [r[0] for r in rows]


def available_divisions(store: Store, configured: Sequence[int] = ()) -> list[int]:
    """Configured divisions, plus any division that has data in the store."""
    rows = store.rows(
        "SELECT DISTINCT division FROM (SELECT division FROM exact_divisions UNION ALL "
        "SELECT division FROM exact_entries) WHERE division IS NOT NULL ORDER BY 1"
    )
    found = [int(r[0]) for r in rows]
    return list(dict.fromkeys([*configured, *found]))


def api_calls_page(store: Store, *, system: str | None = None, errors_only: bool = False,
                   limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """The API call log, newest first (paths are stored with secrets removed)."""
    where, params = [], []
    if system:
        where.append("system = ?")
        params.append(system)
    if errors_only:
        where.append("(status IS NULL OR status >= 400 OR error IS NOT NULL)")
    sql = (
        "SELECT call_id, called_at, system, scope, method, path, status, duration_ms, rate_remaining, "
        "rate_minutely_remaining, error FROM api_calls" + (" WHERE " + " AND ".join(where) if where else "")
    )
    return paged(store, sql, params, limit=limit, offset=offset, order_by="called_at DESC, call_id DESC")


def sync_log_page(store: Store, *, level: str | None = None, source: str | None = None,
                  limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """Events and per-record errors of pulls and pushes, newest first."""
    where, params = [], []
    if level:
        where.append("level = ?")
        params.append(level)
    if source:
        where.append("source LIKE ?")
        params.append(source + "%")
    sql = ("SELECT log_id, logged_at, run_id, source, level, record_key, message FROM sync_log"
           + (" WHERE " + " AND ".join(where) if where else ""))
    return paged(store, sql, params, limit=limit, offset=offset, order_by="logged_at DESC, log_id DESC")


# --------------------------------------------------------------------------- jobs the buttons run

#: shop kind -> "module:function(store, shop_settings, *, on_progress=...)" (same as the CLI)
SHOP_PULLERS = {
    "woocommerce": "exactsync.shops.woocommerce:pull_woocommerce",
    "magento": "exactsync.shops.magento:pull_magento",
}


def _load(spec: str):
    import importlib

    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def _step(on_progress, done: int, total: int, message: str) -> None:
    if on_progress is not None:
        on_progress(done, total, message)


def pull_all(store: Store, settings: Any, *, on_progress=None, shops: Sequence[str] | None = None) -> list[Any]:
    """Pull every configured shop and every configured Exact division (what "Pull" does)."""
    names = list(shops) if shops else list(settings.shops)
    divisions = list(settings.exact.divisions)
    total = len(names) + len(divisions)
    results: list[Any] = []
    for i, name in enumerate(names):
        shop = settings.shop(name)
        _step(on_progress, i, total, f"Pulling {name}…")
        results.append(_load(SHOP_PULLERS[shop.kind])(store, shop))
    if divisions:
        from exactsync.exact.pull import pull_exact

        for j, division in enumerate(divisions):
            _step(on_progress, len(names) + j, total, f"Pulling Exact division {division}…")
            results.append(pull_exact(store, settings, division))
    _step(on_progress, total, total, "Pulled")
    return results


def refresh(store: Store, settings: Any, period: str | None, *, on_progress=None, pull: bool = True) -> Any:
    """Pull everything configured, then reconcile ``period`` (default: the busiest month)."""
    from exactsync.reconcile import run_reconciliation

    if pull:
        pull_all(store, settings, on_progress=on_progress)
    if period is None:
        periods = available_periods(store)
        period = periods[0] if periods else dt.date.today().strftime("%Y-%m")
    _step(on_progress, 0, 1, f"Reconciling {period}…")
    run = run_reconciliation(store, settings, period)
    _step(on_progress, 1, 1, "Reconciled")
    return run


# --------------------------------------------------------------------------- formatting


def fmt_money(value: Any, currency: str = "EUR") -> str:
    """``Decimal('-1234.5')`` → ``'EUR -1,234.50'`` (display only; money stays Decimal)."""
    from decimal import Decimal

    if value is None:
        return "—"
    q = Decimal(str(value)).quantize(Decimal("0.01"))
    return f"{currency} {q:,.2f}"


def fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# --------------------------------------------------------------------------- connections


def _configured(value: Any) -> str:
    """Never a secret value: only whether it is set."""
    return "configured ✓" if value else "not set"


def exact_settings_view(settings: Any) -> pl.DataFrame:
    """The Exact settings as (setting, value) rows; secrets shown as 'configured ✓' only."""
    e = settings.exact
    rows = [
        ("Exact host", e.base_url),
        ("Client ID", e.client_id or "not set"),
        ("Client secret", _configured(e.client_secret)),
        ("Redirect URI", e.redirect_uri),
        ("Divisions", ", ".join(str(d) for d in e.divisions) or "not set"),
        ("Sales journal", e.sales_journal),
        ("Token file", _configured(Path(e.token_file).exists())),
    ]
    return pl.DataFrame(rows, schema=["Setting", "Value"], orient="row")


def shop_settings_view(shop: Any) -> pl.DataFrame:
    if shop.kind == "magento":
        creds = [("Access token", _configured(shop.token))]
    else:
        creds = [("Consumer key", _configured(shop.consumer_key)), ("Consumer secret", _configured(shop.consumer_secret))]
    rows = [("URL", shop.url or "not set"), *creds, ("Division", str(shop.division or "—")),
            ("YourRef prefix", shop.reference_prefix or "—"), ("Home country", shop.home_country),
            ("Time zone", shop.timezone)]
    return pl.DataFrame(rows, schema=["Setting", "Value"], orient="row")


def exact_authorize_url(settings: Any, state: str) -> str:
    from exactsync.exact.oauth import authorize_url

    e = settings.exact
    return authorize_url(e.base_url, e.client_id, e.redirect_uri, state=state)


def exact_token_status(settings: Any) -> dict:
    """Connected?, token age, refresh-token days left and the 30-day warning (no token values)."""
    from exactsync.exact.oauth import TokenStore

    return TokenStore.from_settings(settings).status().as_dict()


def test_exact(store: Store, settings: Any) -> dict:
    """Ask Exact who we are and which configured divisions answer (same as ``exactsync exact test``)."""
    from exactsync.exact.pull import make_client

    client = make_client(settings, store=store)
    try:
        me = client.me()
        divisions = settings.exact.divisions or [me.get("CurrentDivision")]
        headroom = [{"division": d, **client.limiter.headroom(d).as_dict()} for d in divisions]
    finally:
        client.close()
    return {"user": me.get("FullName") or me.get("UserName"), "divisions": ", ".join(map(str, divisions)),
            "headroom": pl.DataFrame(headroom)}


def exact_headroom(store: Store) -> pl.DataFrame:
    """Last rate-limit headroom Exact reported, per scope (division)."""
    return store.query(
        """
        SELECT scope AS division, max(called_at) AS last_call,
               arg_max(rate_remaining, called_at) AS calls_left_today,
               arg_max(rate_minutely_remaining, called_at) AS calls_left_this_minute
        FROM api_calls WHERE system = 'exact' AND (rate_remaining IS NOT NULL OR rate_minutely_remaining IS NOT NULL)
        GROUP BY scope ORDER BY scope
        """
    )


def test_shop(shop: Any) -> str:
    """One small authenticated GET against the shop; a sentence saying what answered."""
    if shop.kind == "magento":
        from exactsync.shops.magento import MagentoClient

        with MagentoClient(shop.url, shop.token.get(), timeout=shop.timeout, verify=shop.verify_tls) as client:
            data = client.get("invoices", {"searchCriteria[pageSize]": 1, "searchCriteria[currentPage]": 1})
        return f"{shop.name}: Magento answered, {data.get('total_count', '?')} invoice(s) in total."
    from exactsync.shops.woocommerce import WooClient

    client = WooClient(shop.url, shop.consumer_key.get(), shop.consumer_secret.get(), timeout=shop.timeout,
                       verify=shop.verify_tls, max_attempts=2)
    try:
        _, resp = client.get("orders", {"per_page": 1})
    finally:
        client.close()
    return f"{shop.name}: WooCommerce answered, {resp.headers.get('x-wp-total', '?')} order(s) in total."


# --------------------------------------------------------------------------- mappings (editor glue)


def mapping_columns(kind: str, division: int) -> dict[str, dict]:
    """Column settings for the mapping editor (plain dicts, understood by ``st.data_editor``)."""
    cols: dict[str, dict] = {
        "division": {"label": "Division", "disabled": True},
        "error": {"label": "error", "disabled": True, "width": "large"},
        "rate": {"label": "Rate %"},
        "vat_code": {"label": "VAT code"},
        "gl_code": {"label": "G/L account"},
    }
    return cols


def mapping_frame(kind: str, edited: Any, division: int) -> pl.DataFrame:
    """The editor's frame back in the mapping's own types (pandas round-trips turn Decimals into
    floats or objects); rows without a division get the picked one. Pure, so it is testable."""
    from decimal import Decimal, InvalidOperation

    from exactsync.mapping import _SPECS  # the mapping's schema is the contract

    schema = _SPECS[kind][3]
    frame = edited if isinstance(edited, pl.DataFrame) else pl.from_pandas(edited)
    rows = []
    for r in frame.to_dicts():
        if all(v is None or v == "" for k, v in r.items() if k not in ("division", "error")):
            continue  # an empty row the user added and left
        out: dict[str, Any] = {}
        for col, dtype in schema.items():
            v = r.get(col)
            if col == "division":
                v = division if v is None or v != v else int(v)
            elif isinstance(dtype, pl.Decimal):
                try:
                    v = None if v is None or v == "" or v != v else Decimal(str(v))
                except InvalidOperation:
                    v = None
            elif dtype == pl.Boolean:
                v = bool(v) if v is not None and v == v else False
            elif dtype == pl.String:
                v = None if v is None or v != v else str(v)
            out[col] = v
        rows.append(out)
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


# --------------------------------------------------------------------------- push (plan, run, jobs)

JOB_STATUSES = ("Pending", "Queued", "Synced", "Error")


def fmt_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return "under a minute"
    return f"about {-(-seconds // 60)} min"


@dataclass
class PushPreview:
    """What the Push page shows for a selection: the library's plan plus display frames."""

    plan: Any
    count: int
    calls: int
    eta: str
    division: int | None
    entries: pl.DataFrame
    effect: pl.DataFrame
    refused: pl.DataFrame
    errors: list[str]
    payloads: list[dict]

    @property
    def ok(self) -> bool:
        return not self.errors


def plan(store: Store, settings: Any, run_id: str, result_keys: Sequence[str]) -> PushPreview:
    """Plan the push of the selected results (nothing is sent): entries, effect, calls, ETA."""
    from exactsync.push import plan_push

    p = plan_push(store, settings, run_id, result_keys=list(result_keys))
    todo = [j for j in p.jobs if j.existing_status != "Synced"]
    refused = pl.DataFrame([{"document": k, "reason": r} for k, r in p.skipped],
                           schema={"document": pl.String, "reason": pl.String}, orient="row")
    divisions = sorted({j.division for j in p.jobs})
    return PushPreview(
        plan=p, count=len(todo), calls=p.calls, eta=fmt_eta(p.eta_seconds),
        division=divisions[0] if len(divisions) == 1 else None,
        entries=p.jobs_frame(), effect=p.effect(), refused=refused, errors=list(p.errors),
        payloads=[j.payload for j in todo[:20]],
    )


@dataclass
class PushResult:
    counts: dict[str, int]
    jobs: pl.DataFrame
    message: str


def _jobs_frame(store: Store, job_ids: Sequence[str]) -> pl.DataFrame:
    return store.query(
        "SELECT job_id, status, kind, doc_key, your_ref, net, vat, exact_entry_number, found_existing, attempts, "
        "last_error, synced_at FROM push_jobs WHERE job_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY your_ref, kind",
        [list(job_ids)],
    )


def _result(store: Store, outcome: Any) -> PushResult:
    counts = {"synced": outcome.synced - outcome.found_existing, "skipped": outcome.found_existing,
              "error": outcome.errors, "not_done": outcome.not_done}
    message = f"{outcome.synced} synced ({outcome.posted} posted, {outcome.found_existing} already in Exact), " \
              f"{outcome.errors} error(s)" + (f"; stopped: {outcome.stopped}" if outcome.stopped else "")
    return PushResult(counts=counts, jobs=_jobs_frame(store, outcome.job_ids), message=message)


def execute_push(store: Store, settings: Any, preview: PushPreview, *, on_progress=None) -> PushResult:
    """Run a confirmed plan (claim → look up → POST only if absent → record)."""
    from exactsync.push import execute_plan

    return _result(store, execute_plan(store, settings, preview.plan, on_progress=on_progress))


def retry(store: Store, settings: Any, job_ids: Sequence[str] | None, *, on_progress=None) -> PushResult:
    """Retry the given failed jobs (all failed ones when ``job_ids`` is None)."""
    from exactsync.push import retry_jobs

    return _result(store, retry_jobs(store, settings, list(job_ids) if job_ids else None, on_progress=on_progress))


def _has_table(store: Store, name: str) -> bool:
    return bool(store.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]))


def job_counts(store: Store) -> dict[str, int]:
    if not _has_table(store, "push_jobs"):
        return {}
    return dict(store.rows("SELECT status, count(*) FROM push_jobs GROUP BY status"))


def jobs_page(store: Store, *, status: str | None = None, limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """Push jobs with their status, timestamps and details, newest first."""
    if not _has_table(store, "push_jobs"):
        return Page(rows=pl.DataFrame(), total=0, offset=0, limit=limit)
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    sql = ("SELECT job_id, status, kind, doc_key, your_ref, division, entry_date, net, vat, attempts, last_error, "
           "exact_entry_number, created_at, queued_at, synced_at, updated_at FROM push_jobs " + where)
    return paged(store, sql, params, limit=limit, offset=offset, order_by="updated_at DESC NULLS LAST, job_id")


def failed_job_ids(store: Store, limit: int = 1000) -> list[str]:
    if not _has_table(store, "push_jobs"):
        return []
    return [r[0] for r in store.rows("SELECT job_id FROM push_jobs WHERE status = 'Error' ORDER BY job_id LIMIT ?", [limit])]


# --------------------------------------------------------------------------- reconciliation views
# Thin adapters over exactsync.reconcile (saved runs in recon_runs / recon_results / recon_vat):
# they add what a page needs (a Page with its total, display columns, hashable filters).

MATCHED = ("matched", "matched_within_tolerance")
TREATMENT_SECTIONS = (
    ("domestic", "Domestic"),
    ("oss", "EU distance sales (OSS)"),
    ("reverse_charge", "Intra-EU B2B (reverse charge)"),
    ("export", "Export outside the EU"),
    ("exempt", "Exempt"),
    ("mixed", "Mixed"),
)


def status_label(status: str | None) -> str:
    from exactsync.reconcile import status_label as label

    return label(status) or "—"


def cause_label(cause: str | None) -> str:
    from exactsync.reconcile import cause_label as label

    return label(cause)


def _run_dict(run: Any) -> dict | None:
    if run is None:
        return None
    return {"run_id": run.run_id, "period": run.period, "created_at": run.created_at, "divisions": run.divisions,
            "shops": run.shops, "totals": run.totals, "by_status": run.by_status}


def run_info(store: Store, run_id: str) -> dict | None:
    """A saved run (run_id, period, created_at, divisions, shops, totals), or None."""
    from exactsync.reconcile import ReconcileError, load_run

    if not _has_table(store, "recon_runs"):
        return None
    try:
        return _run_dict(load_run(store, run_id))
    except ReconcileError:
        return None


def latest_run_info(store: Store, *, period: str | None = None, division: int | None = None) -> dict | None:
    """The newest run of the period that covers the division, or None."""
    from exactsync.reconcile import latest_run

    if not _has_table(store, "recon_runs"):
        return None  # nothing reconciled yet
    return _run_dict(latest_run(store, period, division=division))


def has_run(store: Store) -> bool:
    """True once any reconciliation run is saved."""
    return latest_run_info(store) is not None


def overview(store: Store, run_id: str, *, shop: str | None = None) -> dict:
    """Tiles of the Overview: results, matched share, differences, their amount and VAT delta.

    Amount of differences = Σ |delta gross| (shop gross for a document missing in Exact, Exact
    gross for an Exact-only entry); VAT difference = Σ delta VAT (Exact − shop) over differences.
    """
    m = ", ".join(f"'{s}'" for s in MATCHED)
    where, params = ("run_id = ? AND shop = ?", [run_id, shop]) if shop else ("run_id = ?", [run_id])
    row = store.rows(
        f"""SELECT count(*), count(*) FILTER (WHERE status IN ({m})),
                   count(*) FILTER (WHERE status NOT IN ({m})),
                   coalesce(sum(abs(coalesce(delta_gross, exact_gross - shop_gross, shop_gross, exact_gross)))
                            FILTER (WHERE status NOT IN ({m})), 0),
                   coalesce(sum(coalesce(delta_vat, coalesce(exact_vat, 0) - coalesce(shop_vat, 0)))
                            FILTER (WHERE status NOT IN ({m})), 0)
            FROM recon_results WHERE {where}""",
        params,
    )[0]
    docs = int(row[0])
    return {"documents": docs, "matched": int(row[1]), "matched_share": (row[1] / docs) if docs else 0.0,
            "differences": int(row[2]), "difference_amount": row[3], "vat_difference": row[4]}


def amounts_by_status(store: Store, run_id: str, *, shop: str | None = None) -> pl.DataFrame:
    """Documents and gross amount per status and cause (for the chart and table)."""
    from exactsync.reconcile import amounts_by_status as by_status

    df = by_status(store, run_id, shop=shop)
    if not df.height:
        return pl.DataFrame(schema={"status_label": pl.String, "cause_label": pl.String, "documents": pl.Int64,
                                    "amount": pl.Decimal(18, 2), "amount_chart": pl.Float64})
    return df.with_columns(
        pl.col("cause_label").fill_null("—"),
        pl.col("amount").cast(pl.Decimal(18, 2)),
        pl.col("amount").cast(pl.Float64).alias("amount_chart"),  # chart axis only; tables show the Decimal
    )


def differences_by_day(store: Store, run_id: str, *, shop: str | None = None) -> pl.DataFrame:
    from exactsync.reconcile import differences_by_day as by_day

    return by_day(store, run_id, shop=shop)


@dataclass(frozen=True)
class DiffFilters:
    """Filters of the Differences page (hashable tuples: part of the cache key)."""

    statuses: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    min_amount: str | None = None
    shop: str | None = None
    search: str | None = None

    def library(self, **override: Any) -> Any:
        from exactsync.reconcile import DiffFilters as LibFilters

        kw = dict(statuses=self.statuses, causes=self.causes, countries=self.countries,
                  min_amount=self.min_amount or None, shops=(self.shop,) if self.shop else (), search=self.search or None)
        kw.update(override)
        return LibFilters(**kw)


def difference_choices(store: Store, run_id: str) -> dict[str, list[str]]:
    """Values the filters offer: statuses, causes and countries among the run's differences."""
    m = ", ".join(f"'{s}'" for s in MATCHED)
    out: dict[str, list[str]] = {}
    with store.read() as con:
        for key, col in (("statuses", "status"), ("causes", "cause"), ("countries", "vat_country")):
            rows = con.execute(f"SELECT DISTINCT {col} FROM recon_results WHERE run_id = ? AND {col} IS NOT NULL "
                               f"AND status NOT IN ({m}) ORDER BY 1", [run_id]).fetchall()
            out[key] = [r[0] for r in rows]
    return out


_SHOWN = ["result_key", "status_label", "cause_label", "shop", "your_ref", "doc_date", "vat_country", "currency",
          "shop_gross", "exact_gross", "delta_gross", "delta_vat", "entry_numbers", "detail"]
_SHOWN_AS = {"status_label": "status", "cause_label": "cause", "your_ref": "reference", "doc_date": "date",
             "vat_country": "country", "delta_gross": "difference", "delta_vat": "vat_difference",
             "entry_numbers": "exact_entries"}


def differences_page(store: Store, run_id: str, filters: DiffFilters, *, limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """One page of the run's differences, largest first (only ``limit`` rows leave the database)."""
    from exactsync.reconcile import count_differences, differences

    lib = filters.library()
    total = count_differences(store, run_id, lib)
    frame = differences(store, run_id, lib, limit=limit, offset=offset)
    money = [c for c in ("shop_gross", "exact_gross", "delta_gross", "delta_vat") if c in frame.columns]
    rows = (frame.with_columns([pl.col(c).cast(pl.Decimal(18, 2)) for c in money])
            .select([c for c in _SHOWN if c in frame.columns]).rename(_SHOWN_AS, strict=False))
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
    return f"{r.get('reference') or key} · {r.get('status')} · {r.get('shop') or 'Exact only'}"


def _frame_t(df: pl.DataFrame | None, columns: Sequence[str]) -> pl.DataFrame | None:
    """One record as (field, value) rows, for a side-by-side drill-down."""
    if df is None or not df.height:
        return None
    r = df.select([c for c in columns if c in df.columns]).row(0, named=True)
    return pl.DataFrame({"field": list(r), "value": ["" if v is None else str(v) for v in r.values()]})


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
        "shop_lines": lines.select([c for c in ("line_type", "tax_class", "country", "rate", "treatment", "base", "vat")
                                    if c in lines.columns]) if lines is not None else None,
        "exact": exact.select([c for c in _ENTRY_FIELDS if c in exact.columns]) if exact is not None and exact.height else None,
        "exact_lines": exact_lines.select([c for c in ("entry_id", "vat_code", "gl_account_code", "vat_percentage",
                                                      "treatment", "mapped_country", "base", "vat")
                                           if c in exact_lines.columns]) if exact_lines is not None else None,
        "comparison": d.get("vat_comparison"),
    }


def vat_table(store: Store, run_id: str, *, division: int | None = None) -> pl.DataFrame:
    """The OSS-shaped table of a run: treatment, country, rate, currency; base and VAT in the shop and
    in Exact; deltas (Exact − shop); entries of these documents booked in other periods apart."""
    from exactsync.reconcile import vat_by_country

    df = vat_by_country(store, run_id, division=division)
    money = [c for c in df.columns if c.endswith(("_base", "_vat"))]
    return df.with_columns([pl.col(c).cast(pl.Decimal(18, 2)) for c in money] +
                           [pl.col("country").fill_null(""), pl.col("rate").cast(pl.Decimal(7, 2))])


def vat_chart_frame(table: pl.DataFrame) -> pl.DataFrame:
    """VAT per country, shop vs Exact, long format with float amounts (chart axis only)."""
    wide = table.group_by("country").agg(pl.col("shop_vat").sum().alias("Shop"), pl.col("exact_vat").sum().alias("Exact"))
    return (wide.unpivot(index="country", variable_name="side", value_name="vat")
            .with_columns(pl.col("vat").cast(pl.Float64)).sort("country", "side"))


def runs_page(store: Store, *, limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """Saved reconciliation runs, newest first."""
    from exactsync.reconcile import list_runs

    if not _has_table(store, "recon_runs"):
        return Page(rows=pl.DataFrame(), total=0, offset=0, limit=limit)
    total = int(store.scalar("SELECT count(*) FROM recon_runs"))
    return Page(rows=list_runs(store, limit=limit, offset=offset), total=total, offset=offset, limit=limit)


def export(store: Store, run_id: str, path: Path) -> Path:
    """Write the run to ``path`` (.xlsx or .csv) with the reconciliation's own exporter."""
    from exactsync.reconcile import export_run

    export_run(store, run_id, path)
    return Path(path)


# --------------------------------------------------------------------------- demo push mappings


def demo_mapping_frames(division: int) -> dict[str, pl.DataFrame]:
    """Push mappings that book the demo month the way its Exact side does (exactsync.demo's
    ``vat_code`` / ``gl_for`` / ``debtor_code`` rules), so *Push* works on first start."""
    from decimal import Decimal

    from exactsync.demo.model import DEBTOR_COUNTRIES, debtor_code
    from exactsync.demo.rates import EU_RATES, HOME

    zero = Decimal("0")
    vat = []
    std_home, red_home = EU_RATES[HOME]
    vat += [(division, HOME, red_home, "domestic", "1"), (division, HOME, std_home, "domestic", "2")]
    for country, (std, red) in EU_RATES.items():
        if country == HOME:
            continue
        vat.append((division, country, std, "oss", f"{country}H"))
        if red != std:
            vat.append((division, country, red, "oss", f"{country}L"))
    vat += [(division, "", zero, "reverse_charge", "ICL"), (division, "", zero, "export", "EXP"),
            (division, "", zero, "exempt", "EXP")]
    gl = [(division, "goods", "", "", "8020"), (division, "goods", "", HOME, "8000"),
          (division, "shipping", "", "", "8100"), (division, "fee", "", "", "8020"),
          (division, "adjustment", "", "", "8020")]
    gl += [(division, "goods", "", c, "8010") for c in EU_RATES if c != HOME]
    debtors = [(division, c, debtor_code(c)) for c in DEBTOR_COUNTRIES] + [(division, "", debtor_code(HOME))]
    from exactsync.mapping import _SPECS

    def frame(kind: str, rows: list[tuple]) -> pl.DataFrame:
        schema = _SPECS[kind][3]
        return pl.DataFrame([dict(zip(schema, r)) for r in rows], schema=schema, orient="row")

    return {"vat": frame("vat", vat), "gl": frame("gl", gl), "debtor": frame("debtor", debtors),
            "settings": frame("settings", [(division, "70", "collective", False)])}


def seed_demo_mappings(store: Store, division: int) -> list[str]:
    """Save the demo mappings when the division has none yet; returns problems (empty = ok)."""
    from exactsync.mapping import read_mapping, save_mapping

    if read_mapping(store, "vat", division).height:
        return []
    problems: list[str] = []
    for kind, frame in demo_mapping_frames(division).items():
        saved = save_mapping(store, kind, frame, division)
        problems += [f"{kind}: {e}" for e in saved.errors]
    return problems
