"""``exactsync runs``: the saved reconciliation runs — list them, reopen one as it was (its summary
and its differences), export it again, delete the ones no longer wanted (``delete``, ``prune``:
only with ``--yes``).

A saved run never changes, so ``runs show`` and ``runs export`` give last month's reconciliation
exactly as it was when it ran, whatever was pulled since (``reconcile`` would make a new run from
today's data). RUN is a run id, the start of one, or ``latest`` (with ``--period``: that month's).
"""

from __future__ import annotations

from pathlib import Path

import click

from exactsync.cli.main import Ctx, cli, emit, pass_ctx

__all__ = ["runs", "runs_show", "runs_export", "runs_delete", "runs_prune"]

_PERIOD_ONLY = "Only runs of this month (YYYY-MM, previous or current)."
_PERIOD_HELP = _PERIOD_ONLY[:-1] + "; with RUN latest: that month's newest."


def _period(ctx: Ctx, period: str | None) -> str | None:
    from exactsync.reconcile import parse_period, resolve_period

    if not period:
        return None
    month = resolve_period(period, ctx.settings, ctx.clock)
    parse_period(month)  # "2026-13": a clear error, not "no run for 2026-13"
    return month


@cli.group(invoke_without_command=True)
@click.option("--period", help=_PERIOD_ONLY)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1),
              help="How many runs to list, newest first.")
@click.pass_context
def runs(click_ctx: click.Context, period: str | None, limit: int) -> None:
    """Saved reconciliation runs, newest first (`runs show RUN` reopens one as it was)."""
    if click_ctx.invoked_subcommand is not None:
        return
    from exactsync.reconcile import count_runs, list_runs

    ctx: Ctx = click_ctx.find_object(Ctx)
    period = _period(ctx, period)
    total = count_runs(ctx.store, period=period)
    frame = list_runs(ctx.store, period=period, limit=max(limit, 0))

    def human() -> str:
        if not total:
            return (f"No reconciliation run saved{f' for {period}' if period else ''} "
                    f"(`exactsync reconcile --period {period or 'YYYY-MM'}` saves one).")
        lines = [f"  {'run':<30} {'reconciled (UTC)':<19} {'period':<7} {'documents':>10} {'differences':>11}  "
                 f"divisions · shops"]
        for r in frame.iter_rows(named=True):
            lines.append(f"  {r['run_id']:<30} {r['created_at']:%Y-%m-%d %H:%M:%S} {r['period']:<7} "
                         f"{r['documents'] or 0:>10,} {r['differences'] or 0:>11,}  "
                         f"{', '.join(map(str, r['divisions'] or [])) or '-'} · {', '.join(r['shops'] or []) or '-'}")
        if total > frame.height:
            lines.append(f"… and {total - frame.height:,} more (--limit N to see them)")
        return "\n".join(lines)

    emit(ctx, {"total": total, "runs": frame.to_dicts()}, human)


def _amount(value) -> str:
    """An amount as the lists show it; ``-`` for none (a row booked in another currency has no
    difference in the document's)."""
    return "-" if value is None else f"{value:,.2f}"


def _difference_lines(frame, total: int, division_currency: str | None = None, *,
                      with_division: bool = False) -> list[str]:
    """Differences, one line each: status, reference, shop (and division, ``with_division``: a run
    over several, where a reference means something else in each), date, gross delta in the row's
    currency (and in the division's, which the list is sorted by, when that is another), the
    explanation and what else was found on the row."""
    division = (lambda r: f"{r['division'] if r['division'] is not None else '-':<9} ") if with_division else (lambda r: "")
    lines = [f"  {'status':<36} {'reference':<18} {'shop':<14} " + ("division  " if with_division else "")
             + f"{'date':<10} {'Δ gross':>12}      explanation"]
    for r in frame.iter_rows(named=True):
        day = r["doc_date"] or r["entry_date"]
        cur = r["currency"] or r["exact_currency"] or ""
        dc = r["delta_gross_dc"]
        also = (f"(= {dc:,.2f} {division_currency}) " if division_currency and cur and cur != division_currency
                and dc is not None else "")
        lines.append(f"  {r['status_label']:<36} {r['your_ref'] or r['doc_number'] or '-':<18} {r['shop'] or '-':<14} "
                     f"{division(r)}{day.isoformat() if day else '-':<10} {_amount(r['delta_gross']):>12} {cur:<4} {also}"
                     f"{r['detail'] or ''}{f' (also found: {found})' if (found := r.get('also_label')) else ''}".rstrip())
    if total > frame.height:
        lines.append(f"… and {total - frame.height:,} more (--limit N to see them)")
    return lines


def _vat_lines(frame) -> list[str]:
    """VAT per country and rate in the shape of the OSS return, per division (each files its own),
    one block per treatment (domestic, OSS, reverse charge and exports kept apart), shop beside Exact."""
    lines: list[str] = []
    divisions = frame["division"].unique(maintain_order=True).to_list() if frame.height else []
    for division in divisions:  # each division is an administration with its own return
        lines += _vat_division_lines(frame.filter(frame["division"] == division),
                                     f"division {division}, " if len(divisions) > 1 else "")
    return lines or ["", "No VAT lines in this run."]


def _vat_division_lines(frame, prefix: str) -> list[str]:
    from exactsync.views.recon import treatment_sections  # the VAT page's sections, in its order

    lines: list[str] = []
    present = frame["treatment"].unique().to_list() if frame.height else []
    for treatment, title in treatment_sections(present):
        part = frame.filter(frame["treatment"] == treatment)
        lines += ["", f"{prefix}{title}:",
                  f"  {'country':<7} {'rate %':>6} {'cur':<4} {'shop base':>14} {'shop VAT':>12} {'Exact base':>14} "
                  f"{'Exact VAT':>12} {'Δ base':>12} {'Δ VAT':>10}"]
        for r in part.iter_rows(named=True):
            lines.append(f"  {r['country'] or '-':<7} {r['rate'] or 0:>6.2f} {r['currency'] or '':<4} {r['shop_base'] or 0:>14,.2f} "
                         f"{r['shop_vat'] or 0:>12,.2f} {r['exact_base'] or 0:>14,.2f} {r['exact_vat'] or 0:>12,.2f} "
                         f"{r['delta_base'] or 0:>12,.2f} {r['delta_vat'] or 0:>10,.2f}")
    return lines


@runs.command("show")
@click.argument("run_ref", metavar="[RUN]", default="latest")
@click.option("--period", help=_PERIOD_HELP)
@click.option("--differences", "with_differences", is_flag=True,
              help="Also list the differences, largest first (in the division's currency).")
@click.option("--status", "statuses",
              help="Only these statuses (implies --differences), comma-separated: missing, amount, vat, duplicated, "
                   "customer, currency, only, period, draft, tolerance, matched, or their identifiers.")
@click.option("--found", "found",
              help="Only rows on which these were found, as their status or besides it (implies --differences), "
                   "comma-separated: the names --status takes.")
@click.option("--shop", "shops", multiple=True, help="Only differences of this shop (repeatable; implies --differences).")
@click.option("--search", help="Only results whose reference, document number or explanation contains this "
                               "(matched documents included; implies --differences).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="How many differences to list.")
@click.option("--vat", "with_vat", is_flag=True,
              help="Also print VAT per country and rate, shop beside Exact (the OSS return's shape).")
@pass_ctx
def runs_show(ctx: Ctx, run_ref: str, period: str | None, with_differences: bool, statuses: str | None,
              found: str | None, shops: tuple[str, ...], search: str | None, limit: int, with_vat: bool) -> None:
    """Reopen a saved run: its summary as it was saved, and with --differences what differs and why."""
    from exactsync.cli.reconcile_cmd import summary_text
    from exactsync.reconcile import (DiffFilters, compare_runs, count_differences, differences, find_run,
                                     resolve_statuses, vat_by_country)

    run = find_run(ctx.store, run_ref, period=_period(ctx, period))
    wanted = resolve_statuses(statuses)
    conditions = resolve_statuses(found)  # the same names: a finding is a status a row could have had
    changes = compare_runs(ctx.store, run.run_id)  # against the run of the period before it, if any
    data = run.as_dict()
    data["since_previous"] = changes.as_dict() if changes is not None else None
    frame, total = None, 0
    search = (search or "").strip() or None
    selected = bool(wanted or conditions or shops or search)
    if with_differences or selected:
        # a search finds matched documents too, and so does a matched status asked for (DiffFilters)
        filters = DiffFilters(statuses=wanted, conditions=conditions, shops=shops, search=search)
        total = count_differences(ctx.store, run.run_id, filters)
        frame = differences(ctx.store, run.run_id, filters, limit=max(limit, 0))
        # the run's own "differences" (a count, as `reconcile --json` gives it) stays; the rows selected
        # (differences, or any row a search or status asks for) come under their own keys
        data["rows_total"] = total
        data["rows"] = frame.drop("status_label", "cause_label", "also_label").to_dicts()

    vat = vat_by_country(ctx.store, run.run_id) if with_vat else None
    if vat is not None:
        data["vat_by_country"] = vat.to_dicts()

    def human() -> str:
        text = summary_text(run, changes=changes, saved=True)
        if vat is not None:
            text += "\n" + "\n".join(_vat_lines(vat))
        if frame is None:
            return text + ("" if vat is not None else
                           "\n(--differences lists them, --vat gives VAT per country; `exactsync runs export` "
                           "writes the run to a file)")
        if not total:
            return text + ("\n\nNo result with that selection." if selected else "\n\nNo differences in this run.")
        return text + f"\n\n{total:,} result(s)" + (" with that selection" if selected else " that differ") + \
            ":\n" + "\n".join(_difference_lines(frame, total, run.currency,
                                                  with_division=len(run.divisions) > 1))

    emit(ctx, data, human)


@runs.command("export")
@click.argument("run_ref", metavar="RUN")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--period", help=_PERIOD_HELP)
@pass_ctx
def runs_export(ctx: Ctx, run_ref: str, path: Path, period: str | None) -> None:
    """Export a saved run as it was: FILE .xlsx, .csv (all results) or .zip (CSV per sheet)."""
    from exactsync.reconcile import export_run, find_run

    run = find_run(ctx.store, run_ref, period=_period(ctx, period))
    written = export_run(ctx.store, run.run_id, path)
    emit(ctx, {"run_id": run.run_id, "period": run.period, "export": str(written)},
         f"Exported run {run.run_id} (period {run.period}, reconciled {run.created_at:%Y-%m-%d %H:%M:%S} UTC) "
         f"to {written}")


def _remove(ctx: Ctx, doomed: list, yes: bool, nothing: str) -> None:
    """List the runs ``doomed`` ((run_id, period, created_at) each) and, with ``yes``, delete them."""
    from exactsync.reconcile import delete_run

    if yes:
        for run_id, _, _ in doomed:
            delete_run(ctx.store, run_id)
    data = {"deleted" if yes else "would_delete": [{"run_id": r, "period": p, "created_at": c} for r, p, c in doomed]}

    def human() -> str:
        if not doomed:
            return nothing
        lines = [("Deleted" if yes else "Would delete") + f" {len(doomed):,} run(s):"]
        lines += [f"  {p}  {r}  reconciled {c:%Y-%m-%d %H:%M:%S} UTC" for r, p, c in doomed]
        lines.append("The documents, entries and push jobs stay; only these saved results are gone." if yes
                     else "(nothing deleted: add --yes to delete them; a deleted run cannot be reopened)")
        return "\n".join(lines)

    emit(ctx, data, human)


@runs.command("delete")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Delete them (without it: only say what would be deleted).")
@pass_ctx
def runs_delete(ctx: Ctx, run_refs: tuple[str, ...], yes: bool) -> None:
    """Delete saved runs (ids or their unique starts): their results can no longer be reopened."""
    from exactsync.reconcile import find_run

    found = {}
    for ref in run_refs:
        run = find_run(ctx.store, ref)  # every one is found before anything is deleted
        found[run.run_id] = (run.run_id, run.period, run.created_at)
    _remove(ctx, list(found.values()), yes, "No run to delete.")


@runs.command("prune")
@click.option("--keep", default=3, show_default=True, help="Runs to keep per period, the newest.")
@click.option("--period", help=_PERIOD_ONLY)
@click.option("--yes", is_flag=True, help="Delete them (without it: only say what would be deleted).")
@pass_ctx
def runs_prune(ctx: Ctx, keep: int, period: str | None, yes: bool) -> None:
    """Delete all but the newest --keep runs of each period (a month reconciled every day adds up)."""
    from exactsync.reconcile import runs_beyond

    doomed = runs_beyond(ctx.store, keep, period=_period(ctx, period))
    _remove(ctx, [(r["run_id"], r["period"], r["created_at"]) for r in doomed.iter_rows(named=True)], yes,
            f"Nothing to prune: no period has more than {keep} run(s).")
