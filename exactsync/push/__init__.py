"""Push to Exact: plan payloads from reconciliation results, post them never twice, correct by
reversal, keep a job ledger with retry and resume (docs/push.md)."""

from __future__ import annotations

from exactsync.push.execute import (
    JOB_STATUSES,
    PlanError,
    PushOutcome,
    execute_jobs,
    execute_plan,
    list_jobs,
    lookup_references,
    retry_jobs,
    save_plan,
)
from exactsync.push.payload import build_document_entry, build_reversal, find_existing, payload_of
from exactsync.push.plan import (
    Plan,
    PlannedJob,
    PushPlanError,
    Target,
    load_targets,
    missing_targets,
    plan_push,
    plan_targets,
    target_runs,
)

__all__ = [
    "JOB_STATUSES",
    "Plan",
    "PlanError",
    "PlannedJob",
    "PushOutcome",
    "PushPlanError",
    "Target",
    "build_document_entry",
    "build_reversal",
    "execute_jobs",
    "execute_plan",
    "find_existing",
    "list_jobs",
    "load_targets",
    "missing_targets",
    "lookup_references",
    "payload_of",
    "plan_push",
    "plan_targets",
    "retry_jobs",
    "save_plan",
    "target_runs",
]
