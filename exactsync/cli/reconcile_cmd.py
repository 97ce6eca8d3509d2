"""``exactsync reconcile``: reconcile a month, save the run, optionally export it.

Exit code 0 when the run completes (differences are findings, not failures).
"""

from __future__ import annotations

from pathlib import Path

import click

from exactsync.cli.main import Ctx, cli, emit, pass_ctx

__all__ = ["reconcile_cmd", "summary_text"]


@cli.command("reconcile")
@click.option("--period", required=True,
              help="Month to reconcile, e.g. 2026-10, or previous / current (last month / this month, in the "
                   "shops' time zone: for cron).")
@click.option("--division", "divisions", type=int, multiple=True, help="Exact division (repeatable; default: all configured).")
@click.option("--shop", "shops", multiple=True, help="Shop name (repeatable; default: all configured).")
@click.option("--tolerance", default=None, help="Tolerance per document (default: reconcile.tolerance, 0.01).")
@click.option("--customer-check", type=click.Choice(["strict", "vat_number", "off"]), default="strict",
              show_default=True, help="How the Exact account is compared with the document's customer.")
@click.option("--no-draft", "no_draft", is_flag=True, help="Do not report open (Status 20) entries as draft.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also export the run: .xlsx, .csv (all results) or .zip (CSV per sheet).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary (same as the global --json).")
@pass_ctx
def reconcile_cmd(ctx: Ctx, period: str, divisions: tuple[int, ...], shops: tuple[str, ...], tolerance: str | None,
                  customer_check: str, no_draft: bool, export_path: Path | None, as_json: bool) -> None:
    """Reconcile PERIOD: one status per shop document and per Exact-only entry, saved as a run."""
    from exactsync.errors import ExactsyncError
    from exactsync.reconcile import check_export_path, compare_runs, export_run, resolve_period, run_reconciliation

    if as_json:
        ctx.json = True
    if export_path is not None:
        check_export_path(export_path)  # a path that cannot be written: say so before the work
    summary = run_reconciliation(
        ctx.store, ctx.settings, resolve_period(period, ctx.settings, ctx.clock, shops=list(shops) or None),
        divisions=list(divisions) or None, shops=list(shops) or None, tolerance=tolerance,
        customer_check=customer_check, flag_draft=not no_draft, clock=ctx.clock,
    )
    data = summary.as_dict()
    changes = compare_runs(ctx.store, summary.run_id)  # against the previous run of the period, if any
    data["since_previous"] = changes.as_dict() if changes is not None else None
    if export_path is not None:
        try:
            data["export"] = str(export_run(ctx.store, summary.run_id, export_path))
        except ExactsyncError as e:
            raise ExactsyncError(f"{e} (the run {summary.run_id} is saved: `exactsync runs export {summary.run_id} "
                                 "FILE` writes it again)", exit_code=e.exit_code) from None

    def human() -> str:
        text = summary_text(summary, changes=changes, export=data.get("export"))
        if summary.differences:
            text += (f"\nThe {summary.differences:,} difference(s), largest first, with why: "
                     f"exactsync runs show {summary.run_id} --differences")
        return text

    emit(ctx, data, human)


def summary_text(summary, *, changes=None, export: str | None = None, saved: bool = False) -> str:
    """A run's summary as the terminal shows it: counts and gross per status, tolerated, exchange-rate
    note, export, what changed since the previous run, warnings. ``saved``: say when it ran (a
    reopened run)."""
    from exactsync.reconcile import PRECEDENCE, status_label

    t = summary.totals
    # amounts in the division's currency: documents come in several currencies, and their own
    # amounts added together would mean nothing (the --json summary has both)
    cur = f"({summary.currency})" if summary.currency else "(div. cur.)"
    cur_name = summary.currency or "the division's currency"
    w = max(18, len(f"Exact gross {cur}"))
    lines = [
        f"Run {summary.run_id} · period {summary.period} · divisions {', '.join(map(str, summary.divisions)) or '-'}"
        f" · shops {', '.join(summary.shops) or '-'}",
    ]
    if saved:
        lines.append(f"Reconciled {summary.created_at:%Y-%m-%d %H:%M:%S} UTC · engine {summary.engine_version} · "
                     f"tolerance (net / VAT / gross) {summary.tolerance_text} (saved: shown as it was then)")
    lines += [
        f"{t['documents']:,} shop documents, {t['exact_entries']:,} Exact entries, {t['results']:,} results",
        "",
        f"  {'status':<40} {'count':>9} {'shop gross ' + cur:>{w}} {'Exact gross ' + cur:>{w}}",
    ]
    for status in PRECEDENCE:
        s = summary.by_status.get(status) or {}
        if s.get("count"):
            lines.append(f"  {status_label(status):<40} {s['count']:>9,} {s['shop_gross_dc']:>{w},.2f} "
                         f"{s['exact_gross_dc']:>{w},.2f}")
    lines.append(f"  {'Total':<40} {t['results']:>9,} {t['shop_gross_dc']:>{w},.2f} {t['exact_gross_dc']:>{w},.2f}")
    if t.get("dc_unknown"):
        lines.append(f"  {t['dc_unknown']:,} document(s) have no amount in {cur_name} (a foreign currency without "
                     f"{cur_name} base amounts): left out of the shop column; see --json or the export")
    tol = summary.tolerated
    lines.append(f"Tolerated: {tol['rows']:,} rows, gross {tol['gross']:,.2f} (net {tol['net']:,.2f}, VAT {tol['vat']:,.2f})")
    if note := summary.exchange_note():
        lines.append(f"Exchange rates: {note}")
    if export:
        lines.append(f"Exported to {export}")
    if changes is not None:
        lines.append(changes.sentence())
    lines.extend(f"WARNING: {w}" for w in summary.warnings)
    return "\n".join(lines)
