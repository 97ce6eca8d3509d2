"""``exactsync pull shop [--shop NAME] [--resync]``: pull shop documents into the database."""

from __future__ import annotations

from dataclasses import asdict

import click

from exactsync.cli.main import Ctx, emit, end_progress_line, pass_ctx, pull
from exactsync.errors import EXIT_CONFIG, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, ExactsyncError, exit_code_of
from exactsync.settings import SettingsError
from exactsync.shops.runner import pull_shops

__all__ = ["pull_shop"]


@pull.command("shop")
@click.option("--shop", "names", multiple=True, help="Shop name from the settings (repeatable; default: all).")
@click.option("--resync", is_flag=True,
              help="Re-read every order and refund / credit memo from the start, not only those changed since "
                   "the last pull (upserts; no doubles). A change of the settings that shape documents "
                   "(statuses, timezone, …) re-reads that shop by itself.")
@pass_ctx
def pull_shop(ctx: Ctx, names: tuple[str, ...], resync: bool) -> None:
    """Pull orders, invoices and refunds / credit memos of the configured shops.

    Each shop is pulled on its own: one that cannot be read (missing key, refused, unreachable)
    is reported and the others are still pulled. Exit code 3 when some shops failed, or when
    all did with different codes; when every shop failed with the same code, that code (5
    settings, 6 authorisation, 1).
    """
    settings = ctx.settings
    try:
        shops = [settings.shop(n) for n in names] if names else list(settings.shops.values())
    except SettingsError as e:  # a name typed on the command line: a usage error, as in reconcile and push
        raise ExactsyncError(str(e), exit_code=EXIT_USAGE) from None
    if not shops:  # a settings matter, as `pull exact` without divisions
        raise ExactsyncError("no shops configured: add a [shops.<name>] table to exactsync.toml",
                             exit_code=EXIT_CONFIG) from None

    def progress_for(name: str):
        end_progress_line()  # a bar the previous shop left open (it failed mid-way) keeps its line
        return ctx.progress(name)

    results, failures = pull_shops(ctx.store, shops, progress_for=progress_for, resync=resync)
    end_progress_line()
    if failures and not results and len(failures) == 1:
        # one shop asked for, and it failed: a plain error with that failure's exit code
        raise ExactsyncError(failures[0].message, exit_code=failures[0].exit_code)
    data = {"results": [asdict(r) for r in results], "failures": [f.as_dict() for f in failures]}

    def human() -> str:
        lines = []
        for r in results:
            state = "ok" if r.errors == 0 else (f"{r.errors} record error(s), see the sync log "
                                                 f"(`exactsync log --source shop:{r.shop}`)")
            lines.append(f"{r.shop}: {r.documents} documents, {r.vat_lines} VAT lines, {r.calls} calls: {state}")
            lines += [f"{r.shop}: {note}" for note in r.notes]
        lines += [f"{f.source}: not pulled. {f.message}" for f in failures]
        return "\n".join(lines)

    emit(ctx, data, human)
    code = exit_code_of(failures, len(results))
    if code == EXIT_OK and any(r.errors for r in results):
        code = EXIT_PARTIAL
    if code != EXIT_OK:
        ctx.extra["exit_code"] = code
        click.get_current_context().exit(code)
