"""``exactsync push``: plan (``--dry-run``) or execute (``--yes``) a push to Exact; ``push retry``
and ``push jobs`` for the job ledger.

Exit codes: 0 every job Synced, 3 partial (some jobs in Error or not done), 1 failure (the plan
has errors, or no job synced), 6 Exact needs re-authorisation.
"""

from __future__ import annotations

import datetime as dt

import click

from exactsync.cli.exact_cmd import require_app
from exactsync.cli.main import Ctx, cli, emit, pass_ctx
from exactsync.errors import EXIT_FAILURE, EXIT_OK

__all__ = ["push", "push_retry", "push_jobs"]

#: what to do about a plan that has errors (most are mappings that lack a row), on the command line too
_FIX_MAPPINGS = ("fix the mappings (`exactsync mappings suggest --save` adds the rows Exact's bookings show, "
                 "`exactsync mappings set` the journal and debtors; or the dashboard's Mappings page)")


def _finish(ctx: Ctx, outcome) -> None:
    data = outcome.as_dict()

    def human() -> str:
        text = (f"push run {outcome.run_id}: {outcome.synced}/{outcome.total} synced "
                f"({outcome.posted} posted, {outcome.found_existing} already in Exact), "
                f"{outcome.errors} error(s), {outcome.not_done} not done, {outcome.calls} API call(s)")
        for job_id, message in list(outcome.error_messages.items())[:20]:
            text += f"\n  {job_id}: {message}"
        if outcome.unverified:
            text += (f"\n  {outcome.unverified} posted entr(y/ies) did not show in Exact under their reference right "
                     "after: check them in Exact before pushing again (`exactsync log --source push --level warning`)")
        if outcome.stopped:
            text += f"\n  stopped: {outcome.stopped}"
        return text

    emit(ctx, data, human)
    if outcome.exit_code != EXIT_OK:
        click.get_current_context().exit(outcome.exit_code)


@cli.group(invoke_without_command=True)
@click.option("--period", help="Documents of this period: YYYY-MM, YYYY, YYYY-MM..YYYY-MM, or previous / current "
                               "(last month / this month, in the shops' time zone).")
@click.option("--status", "statuses", default="missing",
              help="Reconciliation statuses to fix, comma-separated: missing, amount, vat, duplicated, "
                   "customer, currency (default: missing).")
@click.option("--run", "run_id", help="Reconciliation run to take results from: an id, the unique start of one, or "
                                     "latest (default: the latest of each month of --period).")
@click.option("--shop", help="Only this shop.")
@click.option("--closed-period-date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Book entries whose own period is closed for the journal on this date (YYYY-MM-DD, in an "
                   "open period) instead of refusing them; the plan lists every entry it moves.")
@click.option("--dry-run", is_flag=True, help="Print the plan; send nothing (the default without --yes).")
@click.option("--yes", is_flag=True, help="Execute the plan.")
@click.pass_context
def push(click_ctx: click.Context, period: str | None, statuses: str, run_id: str | None, shop: str | None,
         closed_period_date: dt.datetime | None, dry_run: bool, yes: bool) -> None:
    """Push what the reconciliation found missing or wrong to Exact (never twice).

    The results come from the latest reconciliation run of each month of --period (or --run).
    Without any run, --status missing falls back to the shop documents that have no entry for
    their reference in the pulled Exact data.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    if dry_run and yes:
        raise click.UsageError("choose one of --dry-run and --yes", ctx=click_ctx)
    from exactsync.push import execute_plan, load_targets, missing_targets, plan_targets, target_runs
    from exactsync.push.plan import format_eta, push_statuses
    from exactsync.reconcile import check_shop_names, find_run, resolve_period

    ctx: Ctx = click_ctx.find_object(Ctx)
    settings, store = ctx.settings, ctx.store
    if yes:  # executing talks to Exact: the app registration first (planning reads the store only)
        require_app(ctx)
    if shop is not None:  # as reconcile --shop: configured, or with documents in the store
        check_shop_names([shop], settings.shops, [r[0] for r in store.rows("SELECT DISTINCT shop FROM shop_documents")])
    if period is not None:
        period = resolve_period(period, settings, ctx.clock, shops=[shop] if shop else None)
    if run_id is not None:
        run_id = find_run(store, run_id).run_id  # as `exactsync runs` names it: an id, its start, or latest
    wanted = push_statuses(statuses.split(","))  # a typo is an error before anything is looked up
    runs = target_runs(store, run_id, period=period, shop=shop)
    # what those runs warned of (e.g. Exact not pulled since the month ended): worth reading before
    # pushing "missing" entries, though each one is looked up in Exact before it is posted
    warned = "".join(f"\nWARNING: the {r.period} run: {w}" for r in runs for w in r.warnings)
    if runs:
        targets = load_targets(store, run_id, statuses=wanted, period=period, shop=shop)
        source = "reconciliation run " + ", ".join(f"{r.run_id} ({r.period})" for r in runs)
    elif set(wanted) <= {"missing_in_exact"}:
        targets = missing_targets(store, settings, period=period, shop=shop)
        source = ("documents without an entry for their reference in the pulled Exact data "
                  "(no reconciliation run" + (f" for {period}" if period else "") + ")")
    else:
        click.echo(f"No reconciliation run{f' for {period}' if period else ''}: run `exactsync reconcile "
                   f"--period …` first (only --status missing works without one).", err=True)
        click_ctx.exit(EXIT_FAILURE)
    plan = plan_targets(store, settings, targets, period=period, shop=shop, clock=ctx.clock,
                        closed_period_date=closed_period_date.date() if closed_period_date else None)
    if not yes:
        emit(ctx, plan.as_dict(), lambda: f"Selected from {source}.{warned}\n" + plan.summary()
             + ("" if plan.ok else f"\nThe plan has errors: {_FIX_MAPPINGS} or the selection; nothing was sent.")
             + ("\n(dry run: nothing sent; add --yes to execute)" if plan.ok else ""))
        if not plan.ok:
            click_ctx.exit(EXIT_FAILURE)
        return
    if not plan.ok:
        emit(ctx, plan.as_dict(), lambda: f"Selected from {source}.{warned}\n" + plan.summary()
             + f"\nThe plan has errors: {_FIX_MAPPINGS} or the selection; nothing was sent.")
        click_ctx.exit(EXIT_FAILURE)
    if not ctx.json:
        click.echo(f"Pushing {len(plan.jobs)} job(s) from {source}: {plan.calls} API call(s), "
                   f"ETA ≈ {format_eta(plan.eta_seconds)}{warned}", err=True)
    outcome = execute_plan(store, settings, plan, on_progress=ctx.progress("push"), clock=ctx.clock)
    if len(plan.jobs) > outcome.total and not ctx.json:
        click.echo(f"{len(plan.jobs) - outcome.total} job(s) of the plan were Synced by an earlier push: not sent "
                   "again.", err=True)
    _finish(ctx, outcome)


@push.command("retry")
@click.argument("job_ids", nargs=-1)
@pass_ctx
def push_retry(ctx: Ctx, job_ids: tuple[str, ...]) -> None:
    """Retry failed jobs (all of them without JOB_IDS), and resume jobs a crash left Queued."""
    from exactsync.push import retry_jobs

    require_app(ctx)
    outcome = retry_jobs(ctx.store, ctx.settings, list(job_ids) or None, on_progress=ctx.progress("retry"),
                         clock=ctx.clock)
    if job_ids and not outcome.total and not ctx.json:
        click.echo("Nothing to retry: the job(s) named are Synced already.", err=True)
    _finish(ctx, outcome)


@push.command("jobs")
@click.option("--status", "status", help="Pending, Queued, Synced or Error (comma-separated, any case).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@pass_ctx
def push_jobs(ctx: Ctx, status: str | None, limit: int) -> None:
    """List push jobs with status, attempts, last error and the Exact entry."""
    from exactsync.push import list_jobs

    frame = list_jobs(ctx.store, status.split(",") if status else None)
    counts = frame.group_by("status").len(name="count").sort("status").to_dicts() if frame.height else []
    shown = frame.head(limit)

    def human() -> str:
        from exactsync.labels import text_table
        from exactsync.views.base import fmt_money  # the amounts as `reconcile` shows them: 1,043.65

        lines = ["jobs: " + (", ".join(f"{c['count']} {c['status']}" for c in counts) or "none")]
        if shown.height:
            columns = ["job_id", "status", "kind", "your_ref", "entry_date", "currency", "net", "vat", "attempts",
                       "exact_entry_number", "synced_at", "last_error"]
            lines += text_table(columns, ([r["job_id"], r["status"], r["kind"], r["your_ref"],
                                           r["entry_date"].isoformat() if r["entry_date"] else "-", r["currency"] or "",
                                           fmt_money(r["net"], ""), fmt_money(r["vat"], ""), f"{r['attempts']:,}",
                                           r["exact_entry_number"] or "-",
                                           f"{r['synced_at']:%Y-%m-%d %H:%M}" if r["synced_at"] else "-",
                                           r["last_error"] or ""] for r in shown.iter_rows(named=True)),
                                right=("net", "vat", "attempts", "exact_entry_number"), indent="")
        if frame.height > shown.height:
            lines.append(f"… and {frame.height - shown.height:,} more (--limit N to see them)")
        return "\n".join(lines)

    emit(ctx, {"counts": counts, "jobs": shown.to_dicts()}, human)
