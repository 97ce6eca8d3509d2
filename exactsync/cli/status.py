"""``exactsync status``: where the data lives, schema version, row counts, last pulls, the newest
reconciliation runs, the push jobs and the newest errors of the sync log."""

from __future__ import annotations

from exactsync.cli.main import Ctx, cli, emit, pass_ctx
from exactsync.labels import pull_source_label
from exactsync.status import ERROR_DAYS, store_status

__all__ = ["status"]


@cli.command()
@pass_ctx
def status(ctx: Ctx) -> None:
    """Show the database file, schema version, row counts, last pulls, runs, push jobs and errors."""
    info = store_status(ctx.store)
    info["config_sources"] = ctx.settings.sources
    info["demo"] = ctx.settings.demo

    def human() -> str:
        lines = [
            f"Database:       {info['path']} ({info['size_bytes'] / 1e6:.1f} MB)",
            f"Schema version: {info['schema_version']} ({info['migrations']} migrations)",
            f"Settings from:  {', '.join(info['config_sources'])}",
            "",
            "Rows:",
        ]
        lines += [f"  {name:<26} {count:>12,}" for name, count in info["tables"].items()]
        lines += ["", "Last pulls:"]
        if not info["pulls"]:
            lines.append("  none yet")
        # in words ("woo-demo orders", "Exact deletions (division 700001)"); --json keeps the identifiers
        named = [(pull_source_label(p["source"], p["scope"]), p["last_success_at"]) for p in info["pulls"]]
        width = max([len(name) for name, _ in named] + [34])
        for name, at in named:
            when = f"{at:%Y-%m-%d %H:%M:%S} UTC" if at is not None else "never succeeded"  # TIMESTAMP or NULL
            lines.append(f"  {name:<{width}}  {when}")
        total = info["runs_total"]
        lines += ["", "Reconciliation runs" + (f" ({len(info['runs'])} newest of {total:,}):" if total > len(info["runs"])
                                               else ":")]
        if not info["runs"]:
            lines.append("  none yet (`exactsync reconcile --period YYYY-MM`)")
        for r in info["runs"]:
            lines.append(f"  {r['period']}  {r['run_id']}  reconciled {r['created_at']:%Y-%m-%d %H:%M:%S} UTC  "
                         f"{r['documents'] or 0:,} documents, {r['differences'] or 0:,} differences")
        if info["runs"]:
            lines.append("  (`exactsync runs show RUN --differences` reopens one)")
        jobs = info["push_jobs"]
        lines += ["", "Push jobs: " + (", ".join(f"{n:,} {s}" for s, n in jobs.items()) or "none yet")]
        if jobs.get("Error"):
            lines.append(f"  {jobs['Error']:,} in Error: `exactsync push jobs --status Error` says why, "
                         "`exactsync push retry` tries them again")
        total_errors = info["errors_total"]
        lines += ["", f"Errors in the sync log, last {ERROR_DAYS} days: " + ("none" if not total_errors else
                                                     f"{total_errors:,}" + (", the newest:" if info["errors"] else ""))]
        for e in info["errors"]:
            about = f" {e['record_key']}:" if e["record_key"] else ""
            lines.append(f"  {e['logged_at']:%Y-%m-%d %H:%M:%S} UTC  {e['source']}{about} {e['message']}")
        if total_errors:
            lines.append("  (`exactsync log --level error` lists them all; the dashboard's Sync log has their details)")
        return "\n".join(lines)

    emit(ctx, info, human)
