"""``exactsync exact connect|test`` and ``exactsync pull exact`` (see docs/exact.md)."""

from __future__ import annotations

import secrets
import sys
from urllib.parse import urlsplit

import click

from exactsync.cli.main import Ctx, check_divisions, emit, end_progress_line, exact, pass_ctx, pull
from exactsync.errors import EXIT_AUTH, EXIT_FAILURE, EXIT_PARTIAL, ExactsyncError, exit_code_of
from exactsync.exact.oauth import is_loopback
from exactsync.settings import SettingsError

__all__ = ["connect_cmd", "test_cmd", "pull_exact_cmd", "is_loopback", "require_app"]


def require_app(ctx: Ctx) -> None:
    """Refuse (exit 5) when the app registration is not in the settings, naming what is missing and
    where it goes: before any token or Exact call, for every command that talks to Exact."""
    ex = ctx.settings.exact
    missing = [n for n, v in (("exact.client_id", ex.client_id), ("exact.client_secret", ex.client_secret),
                              ("exact.redirect_uri", ex.redirect_uri)) if not v]
    if missing:
        plain = [n for n in missing if n != "exact.client_secret"]
        where = (f" and put {', '.join(plain)} in exactsync.toml under [exact] (or "
                 + " / ".join("EXACTSYNC_EXACT__" + n.split(".")[1].upper() for n in plain) + ")" if plain else "")
        secret = ("; the client secret belongs in .streamlit/secrets.toml ([exact] client_secret) or in "
                  "EXACTSYNC_EXACT__CLIENT_SECRET, not in exactsync.toml" if "exact.client_secret" in missing else "")
        raise SettingsError(f"missing setting(s) {', '.join(missing)}: register the app in Exact's App Center "
                            f"(see docs/exact.md){where}{secret}")


def _sandbox_consent(ctx: Ctx, url: str) -> str:
    """POST the sandbox's consent form ("Allow") and return the redirect URL it answers with."""
    from exactsync.demo.bootstrap import sandbox_consent

    state = dict(p.split("=", 1) for p in urlsplit(url).query.split("&") if "=" in p).get("state")
    return sandbox_consent(ctx.settings, state)


@exact.command("connect")
@click.option("--code", "code", default=None,
              help="The authorisation code or the full redirect URL (else you are asked to paste it).")
@click.option("--force-login", is_flag=True, help="Make Exact ask for a login (to pick another user).")
@click.option("--sandbox-approve", is_flag=True,
              help="Sandbox only: press 'Allow' on the sandbox's consent form yourself (refused unless "
                   "exact.base_url is a loopback address).")
@pass_ctx
def connect_cmd(ctx: Ctx, code: str | None, force_login: bool, sandbox_approve: bool) -> None:
    """Authorise exactsync with Exact Online (opens the consent page, stores the token)."""
    from exactsync.exact.oauth import TokenStore

    require_app(ctx)
    tokens = TokenStore.from_settings(ctx.settings)
    state = secrets.token_urlsafe(16)
    url = tokens.authorize_url(state=state, force_login=force_login)
    if sandbox_approve:
        if not is_loopback(ctx.settings.exact.base_url):
            raise ExactsyncError("--sandbox-approve only works against a sandbox on a loopback address "
                                 f"(exact.base_url is {ctx.settings.exact.base_url})")
        code = _sandbox_consent(ctx, url)
    elif code is None:
        click.echo("Open this URL in a browser, log in to Exact Online and allow access:", err=True)
        click.echo(url)
        click.echo("Exact then sends you to the redirect URI; paste that whole URL (or just the code).", err=True)
        code = click.prompt("Redirect URL or code", hide_input=True, err=True)
    status = tokens.exchange_code(code, state=state)
    emit(ctx, {"connected": True, "token_file": str(tokens.path), **status},
         f"Connected to Exact Online ({ctx.settings.exact.base_url}); token stored in {tokens.path} (0600).")


@exact.command("test")
@pass_ctx
def test_cmd(ctx: Ctx) -> None:
    """Check the connection: user, divisions, rights, token age and rate-limit headroom."""
    from exactsync.exact.client import ExactApiError
    from exactsync.exact.pull import make_client

    settings = ctx.settings
    require_app(ctx)
    client = make_client(settings, store=ctx.store)
    out: dict = {"base_url": settings.exact.base_url}
    try:
        token = client.tokens.status()
        out["auth"] = token.as_dict()
        if not token.connected:
            emit(ctx, out, token.warning)
            ctx_exit(EXIT_AUTH)
        me = client.me()
        out["user"] = {k: me.get(k) for k in ("UserName", "FullName", "Email", "CurrentDivision")}
        divisions = settings.exact.divisions or [me.get("CurrentDivision")]
        out["divisions"] = []
        for div in divisions:
            entry: dict = {"division": div}
            try:
                rows = list(client.pages("system/Divisions", div, {"$select": "Code,Description,Currency,Country"}).rows())
                mine = next((r for r in rows if r.get("Code") == div), None)
                entry["description"] = mine.get("Description") if mine else None
                entry["accessible"] = mine is not None
                entry["accessible_divisions"] = len(rows)
                try:
                    data = client.get("users/UserHasRights", div,
                                      {"endpoint": "'salesentry/SalesEntries'", "action": "'POST'"})
                    d = data.get("d", {}) if isinstance(data, dict) else {}
                    entry["can_post_sales_entries"] = d.get("UserHasRights")
                except ExactApiError as e:
                    entry["can_post_sales_entries"] = f"unknown ({e.status})"
            except ExactApiError as e:
                entry["accessible"] = False
                entry["error"] = str(e)
            entry["rate_limit"] = client.limiter.headroom(div).as_dict()
            out["divisions"].append(entry)
        out["auth"] = client.tokens.status().as_dict()
    finally:
        client.close()

    def human() -> str:
        from exactsync.labels import yes_no  # True / False in words; --json keeps the booleans

        t = out["auth"]
        lines = [f"Exact Online: {out['base_url']}",
                 f"User: {out['user']['FullName']} <{out['user']['UserName']}>",
                 f"Access token: expires in {t['access_expires_in']:.0f} s; refresh token valid "
                 f"{t['refresh_days_left']:.1f} more days"]
        if t.get("warning"):
            lines.append(f"WARNING: {t['warning']}")
        for d in out["divisions"]:
            rl = d["rate_limit"]
            lines.append(f"Division {d['division']}: {d.get('description') or '?'} "
                         f"({'ok' if d.get('accessible') else 'NO ACCESS'}); post sales entries: "
                         f"{yes_no(d.get('can_post_sales_entries'))}; calls left today {rl['daily_remaining']}, "
                         f"this minute {rl['minutely_remaining']}")
        return "\n".join(lines)

    emit(ctx, out, human)
    if any(not d.get("accessible") for d in out["divisions"]):
        ctx_exit(EXIT_FAILURE)


def ctx_exit(code: int) -> None:
    click.get_current_context().exit(code)


@pull.command("exact")
@click.option("--division", "divisions", type=int, multiple=True,
              help="Division code to pull (repeatable; default: all of exact.divisions).")
@click.option("--full", is_flag=True, help="Also refresh reference data and poll deletions now.")
@click.option("--resync", is_flag=True, help="Re-read all transaction lines from the start (upserts; no doubles).")
@pass_ctx
def pull_exact_cmd(ctx: Ctx, divisions: tuple[int, ...], full: bool, resync: bool) -> None:
    """Pull Exact reference data, booked transaction lines and deletions into the database."""
    from exactsync.exact.pull import make_client
    from exactsync.exact.runner import pull_divisions

    settings = ctx.settings
    targets = list(divisions) or list(settings.exact.divisions)
    if not targets:
        raise SettingsError("no division to pull: set exact.divisions or pass --division")
    check_divisions(ctx, divisions)  # one typed on the command line must be known (as in reconcile)
    require_app(ctx)
    client = make_client(settings, store=ctx.store)
    try:
        status = client.tokens.status()  # not connected: the pull's own error says so, once
        if status.connected and status.warning and not ctx.json:
            click.echo(f"Warning: {status.warning}", err=True)
        pulls = pull_divisions(ctx.store, settings, targets, client=client, full=full, resync=resync,
                               progress_for=lambda div: ctx.progress(f"Exact {div}"),
                               on_done=lambda div: end_progress_line())
    finally:
        client.close()
    # one division asked for, or the token failing before anything was pulled: the error as it is
    told = pulls.errors[0] if len(targets) == 1 and pulls.errors else pulls.fatal if not pulls.pulled else None
    if isinstance(told, ExactsyncError):
        raise told
    failures = pulls.failures
    results = [r.as_dict() for r in pulls.results] + [
        {"division": div, "complete": False, "stopped": f.message} for div, f in pulls.stopped.items()]
    results.sort(key=lambda r: targets.index(r["division"]))

    def human() -> str:
        lines = []
        for r in results:
            if not r.get("complete"):
                lines.append(f"Division {r['division']}: stopped. {r.get('stopped')}")
                continue
            lines.append(f"Division {r['division']}: {r['lines_upserted']} lines, {r['lines_deleted']} deleted, "
                         + (f"{r['entries_derived']} entries re-derived (reference data refreshed), "
                            if r.get("rederived_all") else f"{r['entries_derived']} sales entries new or changed, ")
                         + f"{r['record_errors']} record errors, "
                         f"{r['calls']} API calls")
        lines += [f"{f.source}: not pulled. {f.message}" for f in failures]
        if pulls.skipped:
            lines.append(f"Not tried (they need the same connection): division(s) "
                         f"{', '.join(str(d) for d in pulls.skipped)}")
        return "\n".join(lines)

    emit(ctx, {"results": results, "failures": [f.as_dict() for f in failures], "not_tried": pulls.skipped}, human)
    record_errors = any(r.get("record_errors") for r in results)
    if record_errors and not ctx.json:
        click.echo("Some records could not be stored: see the sync log (`exactsync log --source exact`).",
                   file=sys.stderr)
    if failures:
        ctx_exit(exit_code_of(failures, len(results)))
    if pulls.stopped or record_errors:
        ctx_exit(EXIT_PARTIAL)
