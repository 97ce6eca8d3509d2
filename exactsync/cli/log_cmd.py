"""``exactsync log``: the sync log, newest first — what pulls and pushes noted, warned of and could
not do (a record a shop could not read, a job Exact refused), the events the dashboard's Sync log
page lists. The rows come from the same reader (:func:`exactsync.views.sync_log_page`)."""

from __future__ import annotations

import datetime as dt

import click

from exactsync.cli.main import Ctx, cli, emit, pass_ctx

__all__ = ["log_cmd", "LEVELS"]

#: the levels of the sync log, mildest first: ``--level warning`` shows warnings and errors
LEVELS = ("info", "warning", "error")


@cli.command("log")
@click.option("--source", help="Only sources starting with this: shop:woo-demo, shop (every shop), exact, push.")
@click.option("--level", type=click.Choice(LEVELS, case_sensitive=False),
              help="Only this level and worse (warning: warnings and errors; default: all).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only rows logged on or after this day (YYYY-MM-DD, UTC).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="How many rows, newest first.")
@pass_ctx
def log_cmd(ctx: Ctx, source: str | None, level: str | None, since: dt.datetime | None, limit: int) -> None:
    """The sync log, newest first: what pulls and pushes noted, and the records they could not store."""
    from exactsync.labels import text_table
    from exactsync.views.ops import sync_log_page

    levels = LEVELS[LEVELS.index(level.lower()):] if level else None
    page = sync_log_page(ctx.store, source=source or None, levels=levels, since=since, limit=limit)
    rows = page.rows
    selected = bool(source or level or since)

    def human() -> str:
        if not page.total:
            return "No rows in the sync log" + (" with that selection." if selected else " yet.")
        columns = ["logged_at", "level", "source", "record_key", "message"]
        lines = text_table(columns, ([f"{r['logged_at']:%Y-%m-%d %H:%M:%S}", r["level"], r["source"],
                                      r["record_key"] or "", r["message"]] for r in rows.iter_rows(named=True)),
                           indent="", headings={"source": "Source"})  # (a VAT code's source reads "Read from")
        if page.total > rows.height:
            more = f"… and {page.total - rows.height:,} older"
            lines.append(more + (" (--limit N to see them; --since, --source and --level narrow the list)"
                                 if limit <= page.limit else
                                 f" (at most {page.limit:,} at a time: --since, --source and --level narrow the list)"))
        return "\n".join(lines)

    emit(ctx, {"total": page.total, "rows": rows.to_dicts()}, human)
