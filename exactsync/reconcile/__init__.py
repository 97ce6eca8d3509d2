"""Reconciliation: every shop document and every Exact-only entry gets one status (see docs/reconcile.md).

    from exactsync.reconcile import run_reconciliation, latest_run, differences, vat_by_country, export_run
    run = run_reconciliation(store, settings, "2026-10")            # saved; returns a RunSummary
    page = differences(store, run.run_id, DiffFilters(statuses=["missing_in_exact"]), limit=50)
    export_run(store, run.run_id, "oktober.xlsx")
"""

from exactsync.reconcile.constants import (
    CAUSES,
    DIFFERENCE_STATUSES,
    ENGINE_VERSION,
    OK_STATUSES,
    PRECEDENCE,
    STATUSES,
    STATUS_ALIASES,
    TOLERANCE_TYPES,
    cause_label,
    status_label,
)
from exactsync.reconcile.engine import (
    CUSTOMER_CHECKS,
    ReconcileError,
    RunSummary,
    Tolerance,
    parse_period,
    resolve_period,
    run_reconciliation,
)
from exactsync.reconcile.export import EXPORT_SUFFIXES, check_export_path, export_run
from exactsync.reconcile.runs import (
    DiffFilters,
    amounts_by_status,
    count_differences,
    delete_run,
    runs_beyond,
    differences,
    differences_by_day,
    document_detail,
    find_run,
    latest_run,
    list_runs,
    load_run,
    resolve_statuses,
    results,
    vat_by_country,
    vat_code_reading,
    RunChanges,
    compare_runs,
    count_runs,
)

__all__ = [
    "CAUSES",
    "CUSTOMER_CHECKS",
    "DIFFERENCE_STATUSES",
    "ENGINE_VERSION",
    "EXPORT_SUFFIXES",
    "OK_STATUSES",
    "PRECEDENCE",
    "STATUSES",
    "STATUS_ALIASES",
    "TOLERANCE_TYPES",
    "DiffFilters",
    "ReconcileError",
    "RunSummary",
    "Tolerance",
    "amounts_by_status",
    "cause_label",
    "count_differences",
    "delete_run",
    "runs_beyond",
    "differences",
    "differences_by_day",
    "document_detail",
    "export_run",
    "check_export_path",
    "find_run",
    "latest_run",
    "list_runs",
    "load_run",
    "parse_period",
    "resolve_statuses",
    "resolve_period",
    "results",
    "run_reconciliation",
    "status_label",
    "vat_by_country",
    "vat_code_reading",
    "RunChanges",
    "compare_runs",
    "count_runs",
]
