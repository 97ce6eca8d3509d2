"""Push views: the plan for a selection, running it, the job ledger, the mapping editor's glue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Sequence

import polars as pl

from exactsync.demo.mappings import demo_mapping_frames, seed_demo_mappings
from exactsync.store import Store
from exactsync.views.base import PAGE_SIZE, Page, _has_table, fmt_eta, paged

__all__ = [
    "mapping_columns",
    "mapping_frame",
    "JOB_STATUSES",
    "PushPreview",
    "plan",
    "PushResult",
    "execute_push",
    "retry",
    "job_counts",
    "jobs_page",
    "failed_job_ids",
    "demo_mapping_frames",
    "seed_demo_mappings",
]


def mapping_columns(kind: str, division: int) -> dict[str, dict]:
    """Column settings for the mapping editor (plain dicts, understood by ``st.data_editor``)."""
    from exactsync.mapping import DEBTOR_STRATEGIES, LINE_TYPES
    from exactsync.vat import TREATMENTS

    def choice(label: str, options: list[str], help: str | None = None) -> dict:
        # what st.column_config.SelectboxColumn makes (a plain dict: the library does not import Streamlit)
        return {"label": label, "help": help, "type_config": {"type": "selectbox", "options": options}}

    treatments = [t for t in TREATMENTS if t != "mixed"]
    cols: dict[str, dict] = {
        "division": {"label": "Division", "disabled": True},
        "error": {"label": "Error", "disabled": True, "width": "large"},
        "rate": {"label": "Rate %"},
        "vat_code": {"label": "VAT code"},
        "gl_code": {"label": "G/L account"},
        "line_type": choice("Line type", list(LINE_TYPES)),
        "treatment": choice("Treatment", treatments) if kind == "vat" else choice(
            "Treatment", [ANY, *treatments], "any: every treatment without a row of its own"),
        "tax_class": {"label": "Tax class", "help": "the shop's tax class; empty: any"},
        "country": {"label": "Country", "help": "empty: any country"},
        "debtor_strategy": choice("Debtor strategy", list(DEBTOR_STRATEGIES)),
        "account_code": {"label": "Debtor account", "help": "the Exact account code of the collective debtor"},
        "cost_center": {"label": "Cost centre"},
        "journal_code": {"label": "Sales journal"},
        "create_debtors": {"label": "Create debtors", "help": "with lookup: create a debtor Exact does not know"},
    }
    return cols


#: how the G/L editor shows a row for any treatment (stored as ''; exactsync.mapping reads both)
ANY = "any"


def editor_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A mapping as the editor shows it: a row without a problem has a blank *error* cell, not "None";
    a G/L row for any treatment says *any* (its choice list has no blank)."""
    if "error" in frame.columns:
        frame = frame.with_columns(pl.col("error").fill_null(""))
    if "gl_code" in frame.columns and "treatment" in frame.columns:
        frame = frame.with_columns(pl.col("treatment").fill_null("").replace("", ANY))
    return frame


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


JOB_STATUSES = ("Pending", "Queued", "Synced", "Error")


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
    #: net per period, revenue G/L account and currency (Plan.revenue)
    revenue: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.errors


def plan(store: Store, settings: Any, run_id: str, result_keys: Sequence[str], *,
         closed_period_date: dt.date | None = None) -> PushPreview:
    """Plan the push of the selected results (nothing is sent): entries, effect, calls, ETA.
    ``closed_period_date``: the date for entries whose own period is closed (see exactsync.push.plan)."""
    from exactsync.push import plan_push

    p = plan_push(store, settings, run_id, result_keys=list(result_keys), closed_period_date=closed_period_date)
    todo = [j for j in p.jobs if j.existing_status != "Synced"]
    refused = pl.DataFrame([{"document": k, "reason": r} for k, r in p.skipped],
                           schema={"document": pl.String, "reason": pl.String}, orient="row")
    divisions = sorted({j.division for j in p.jobs})
    return PushPreview(
        plan=p, count=len(todo), calls=p.calls, eta=fmt_eta(p.eta_seconds),
        division=divisions[0] if len(divisions) == 1 else None,
        entries=p.jobs_frame(), effect=p.effect(), revenue=p.revenue(), refused=refused, errors=list(p.errors),
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
              "error": outcome.errors, "not_done": outcome.not_done, "unverified": outcome.unverified}
    message = f"{outcome.synced} synced ({outcome.posted} posted, {outcome.found_existing} already in Exact), " \
              f"{outcome.errors} error(s)" + (f", {outcome.not_done} not done" if outcome.not_done else "") + (
                  f"; {outcome.unverified} posted but not shown by Exact under their reference right after: "
                  "check them in Exact (Sync log) before pushing them again" if outcome.unverified else "") + (
                  f"; stopped: {outcome.stopped}" if outcome.stopped else "")
    return PushResult(counts=counts, jobs=_jobs_frame(store, outcome.job_ids), message=message)


def execute_push(store: Store, settings: Any, preview: PushPreview, *, on_progress=None) -> PushResult:
    """Run a confirmed plan (claim → look up → POST only if absent → record)."""
    from exactsync.push import execute_plan

    return _result(store, execute_plan(store, settings, preview.plan, on_progress=on_progress))


def retry(store: Store, settings: Any, job_ids: Sequence[str] | None, *, on_progress=None) -> PushResult:
    """Retry the given failed jobs (all failed ones when ``job_ids`` is None)."""
    from exactsync.push import retry_jobs

    return _result(store, retry_jobs(store, settings, list(job_ids) if job_ids else None, on_progress=on_progress))


def job_counts(store: Store) -> dict[str, int]:
    if not _has_table(store, "push_jobs"):
        return {}
    return dict(store.rows("SELECT status, count(*) FROM push_jobs GROUP BY status"))


def jobs_page(store: Store, *, status: str | None = None, limit: int = PAGE_SIZE, offset: int = 0) -> Page:
    """Push jobs with their status, timestamps and details, newest first."""
    if not _has_table(store, "push_jobs"):
        return Page(rows=pl.DataFrame(), total=0, offset=0, limit=limit)
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    from exactsync.push.execute import JOB_CURRENCY_SQL

    sql = (f"SELECT job_id, status, kind, doc_key, your_ref, division, entry_date, {JOB_CURRENCY_SQL}, net, vat, "
           "attempts, last_error, "
           "exact_entry_number, created_at, queued_at, synced_at, updated_at FROM push_jobs " + where)
    return paged(store, sql, params, limit=limit, offset=offset, order_by="updated_at DESC NULLS LAST, job_id")


def failed_job_ids(store: Store, limit: int = 1000) -> list[str]:
    if not _has_table(store, "push_jobs"):
        return []
    return [r[0] for r in store.rows("SELECT job_id FROM push_jobs WHERE status = 'Error' ORDER BY job_id LIMIT ?", [limit])]
