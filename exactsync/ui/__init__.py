"""Glue between the dashboard and the library. The only exactsync package that imports Streamlit.

Pages call :func:`get_settings` / :func:`get_store` and then library functions; the library
itself never sees Streamlit. Settings come from the same layers as the CLI (exactsync.toml,
.streamlit/secrets.toml, EXACTSYNC_* environment). Without any configuration the dashboard runs
the demo (:mod:`exactsync.ui.demo`): sandboxes on loopback and a generated month.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import streamlit as st

from exactsync.clock import utcnow
from exactsync.errors import ExactsyncError
from exactsync.redact import install_log_filter, redact
from exactsync.settings import Settings, load_settings
from exactsync.store import Store

__all__ = [
    "ROOT",
    "page_setup",
    "config_present",
    "is_demo",
    "served_url",
    "get_settings",
    "get_store",
    "show_error",
    "remember_pull",
    "show_pull_failures",
    "clear_caches",
    "progress_status",
    "pager",
    "auth_gate",
    "navigation_position",
    "picked",
    "money_config",
    "labelled",
    "JOB_LABELS",
    "readable",
    "table",
]

ROOT = Path(__file__).resolve().parents[2]


def page_setup() -> None:
    install_log_filter()
    st.set_page_config(page_title="exactsync", page_icon=":material/balance:", layout="wide")


def config_present(cwd: Path | None = None, env: dict[str, str] | None = None) -> bool:
    """True when the user configured exactsync (toml, EXACTSYNC_* variables or secrets.toml).

    ``EXACTSYNC_DEMO=1`` forces the demo even when a configuration exists; ``EXACTSYNC_DEMO_DIR``
    only moves the demo's folder (default ``data/demo``).
    """
    env = dict(os.environ) if env is None else env
    cwd = cwd or Path.cwd()
    if env.get("EXACTSYNC_DEMO", "").lower() in ("1", "true", "yes"):
        return False
    if any(k.startswith("EXACTSYNC_") and k not in ("EXACTSYNC_DEMO", "EXACTSYNC_DEMO_DIR") for k in env):
        return True
    if (cwd / "exactsync.toml").exists():
        return True
    secrets = cwd / ".streamlit" / "secrets.toml"
    if secrets.exists():
        import tomllib

        try:
            data = tomllib.loads(secrets.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return True  # let load_settings explain the problem
        return any(k in data for k in ("store", "exact", "shops"))
    return False


def is_demo() -> bool:
    return not config_present()


def served_url() -> str:
    """This dashboard's own address, as a browser on this machine reaches it: Streamlit's
    ``server.address`` (127.0.0.1 when it listens on every interface or is unset) and
    ``server.port``; ``http://127.0.0.1:8501/`` for ``make run``."""
    address = (st.get_option("server.address") or "").strip()
    if address in ("", "0.0.0.0", "::", "[::]"):
        address = "127.0.0.1"
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"
    return f"http://{address}:{int(st.get_option('server.port') or 8501)}/"


@st.cache_resource(max_entries=4)
def _settings_cached(config: str | None) -> Settings:
    return load_settings(config)


def get_settings() -> Settings:
    if is_demo():
        from exactsync.ui.demo import demo_environment

        return demo_environment().settings
    return _settings_cached(os.environ.get("EXACTSYNC_CONFIG"))


@st.cache_resource(max_entries=4)
def _store_cached(path: str, lock_timeout: float) -> Store:
    # A Store holds no open connection; caching it only caches the applied migrations.
    return Store.open(path, lock_timeout=lock_timeout)


def get_store() -> Store:
    s = get_settings()
    return _store_cached(str(s.store.path), s.store.lock_timeout)


def show_error(error: BaseException) -> None:
    """A message a user can act on, never a traceback (and never a secret)."""
    if isinstance(error, ExactsyncError):
        st.error(redact(error), icon=":material/error:")
    else:
        st.error(f"Something went wrong: {redact(error)}", icon=":material/error:")


_PULL_FAILURES = "pull_failures"


def remember_pull(report: Any) -> None:
    """Keep what a pull could not read (``views.PullReport``), and its notes, for the page after
    ``st.rerun()``, with the run it made (the message belongs to that run)."""
    notes = list(getattr(report, "notes", None) or []) if report is not None else []
    if report is not None and (report.failures or notes):
        run = getattr(report, "run", None)
        st.session_state[_PULL_FAILURES] = {"message": report.message, "notes": notes,
                                            "run_id": getattr(run, "run_id", None), "at": utcnow()}
    else:
        st.session_state.pop(_PULL_FAILURES, None)


def show_pull_failures(run: dict | None = None) -> None:
    """The sources the last Pull could not read, above the run it made without them, and the pull's
    notes (a shop read from the start after a settings change): shown while the page shows that run (not over an older run reopened, nor a newer one made since)."""
    failed = st.session_state.get(_PULL_FAILURES)
    if not failed:
        return
    if failed["run_id"] is not None and (run is None or run.get("run_id") != failed["run_id"]):
        return
    if failed["message"]:
        st.error(f"Some sources could not be pulled ({failed['at']:%H:%M} UTC); the run below uses what was pulled "
                 "from them before. " + failed["message"], icon=":material/sync_problem:")
    for note in failed.get("notes") or []:
        st.info(note, icon=":material/info:")


def clear_caches() -> None:
    """Forget cached query results after a pull, reconciliation or push wrote new data."""
    st.cache_data.clear()


def picked() -> dict:
    """The sidebar choices (period, division, shop) of this session."""
    return {
        "period": st.session_state.get("period"),
        "division": st.session_state.get("division"),
        "shop": st.session_state.get("shop"),
    }


#: how a date column shows (labelled, table): the day only
_DATE_FORMAT = "YYYY-MM-DD"

#: how a money column shows (money_config, labelled): two decimals, thousands separators
_MONEY_FORMAT = "%,.2f"

#: headings of push-job columns, the same on every page that lists jobs (Push, Sync log)
JOB_LABELS = {
    "job_id": "Job", "status": "Status", "kind": "Kind", "doc_key": "Shop document", "division": "Division",
    "your_ref": "YourRef", "description": "Description", "entry_date": "Entry date", "fin_year": "Year",
    "fin_period": "Period", "currency": "Currency", "net": "Net", "vat": "VAT",
    "reverses_entry_number": "Reverses entry", "pair_job_id": "Paired job", "existing_status": "Already pushed",
    "exact_entry_number": "Exact entry", "found_existing": "Found in Exact", "attempts": "Attempts",
    "last_error": "Last error", "synced_at": "Synced (UTC)",
}


def money_config(frame) -> dict:
    """Column settings that show every money column (Decimal; rates excepted) with two decimals and
    thousands separators: ``1,226.90``, not ``1226.9``. Display only: the frame sent stays Decimal."""
    import polars as pl

    schema = getattr(frame, "schema", {})
    return {name: st.column_config.NumberColumn(name, format=_MONEY_FORMAT) for name, dtype in schema.items()
            if isinstance(dtype, pl.Decimal) and "rate" not in name and "percentage" not in name}


def labelled(frame, labels: dict[str, str], helps: dict[str, str] | None = None) -> dict:
    """Column settings that head the columns of ``frame`` named in ``labels`` with their label (and
    ``helps``' tooltip), money keeping :func:`money_config`'s format. Display only."""
    import polars as pl

    schema, money, helps = getattr(frame, "schema", {}), money_config(frame), helps or {}
    out = {}
    for name, label in labels.items():
        if name not in schema:
            continue
        if name in money:
            out[name] = st.column_config.NumberColumn(label, format=_MONEY_FORMAT, help=helps.get(name))
        elif schema[name].is_numeric():  # counts, ids, rates
            out[name] = st.column_config.NumberColumn(label, help=helps.get(name))
        elif schema[name] == pl.Date:  # a date, not "2026-10-07 00:00:00"
            out[name] = st.column_config.DateColumn(label, format=_DATE_FORMAT, help=helps.get(name))
        else:
            out[name] = st.column_config.Column(label, help=helps.get(name))
    return out


#: column names whose words read better otherwise (see :func:`readable`)
def readable(frame) -> dict[str, str]:
    """``{column: label}`` for every column of ``frame``: ``gl_account_code`` → "G/L account code",
    for tables whose columns have no hand-written labels (pass to :func:`labelled`); the words are
    the export's (:mod:`exactsync.labels`)."""
    from exactsync.labels import readable as headings

    return headings(getattr(frame, "columns", []))


def table(frame, *, container=None, column_config: dict | None = None, **kwargs):
    """``st.dataframe`` as every page shows a table: full width, no index, money with two decimals."""
    import polars as pl

    dates = {name: st.column_config.DateColumn(name, format=_DATE_FORMAT)
             for name, dtype in getattr(frame, "schema", {}).items() if dtype == pl.Date}
    config = {**dates, **money_config(frame), **(column_config or {})}
    return (container or st).dataframe(frame, hide_index=True, width="stretch", column_config=config, **kwargs)


def _fmt_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


@contextlib.contextmanager
def progress_status(label: str, *, done_label: str | None = None) -> Iterator[Callable[..., None]]:
    """``with progress_status("Pulling…") as on_progress: lib(..., on_progress=on_progress)``.

    Shows ``st.status`` with a progress bar and an ETA; the callback takes ``(done, total,
    message="")`` like the CLI's. Errors close the status as failed and are re-raised.
    """
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text="Starting…")
        started = time.monotonic()

        def on_progress(done: int = 0, total: int | None = None, message: str = "", *_: object) -> None:
            if total:
                frac = min(1.0, max(0.0, done / total))
                elapsed = time.monotonic() - started
                eta = f" · about {_fmt_seconds(elapsed / frac - elapsed)} left" if 0 < frac < 1 else ""
                bar.progress(frac, text=f"{message} {done:,}/{total:,}{eta}".strip())
            else:
                bar.progress(0.0 if not done else 0.5, text=f"{message} {done:,}".strip())

        try:
            yield on_progress
        except BaseException:
            status.update(label=f"{label.rstrip('…')} failed", state="error", expanded=True)
            raise
        bar.progress(1.0, text="Done")
        status.update(label=done_label or f"{label.rstrip('…')}: done", state="complete", expanded=False)


def pager(key: str, total: int, page_size: int) -> int:
    """A page picker under a table; returns the offset. Only that page is queried and sent."""
    pages = max(1, -(-total // page_size))
    if pages == 1:
        st.session_state.pop(key, None)
        return 0
    current = min(int(st.session_state.get(key, 1)), pages)
    st.session_state[key] = current
    number = st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key=key)
    return (int(number) - 1) * page_size


def _login_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):  # no secrets.toml at all
        return False


def navigation_position() -> str:
    """Where app.py's ``st.navigation`` shows the pages: in the sidebar, or nowhere while the
    optional login (:func:`auth_gate`) waits for a user to sign in."""
    if _login_configured() and not st.user.get("is_logged_in", False):
        return "hidden"
    return "sidebar"


def auth_gate() -> None:
    """Optional OIDC login for exposed deployments (``[auth]`` in .streamlit/secrets.toml).

    Off unless ``[auth]`` is configured (so tests and local use run without it). ``st.login``
    only gates dashboard users: it can never replace Exact's own OAuth flow.
    """
    if not _login_configured():
        return
    if not st.user.get("is_logged_in", False):
        st.title("exactsync")
        st.write("Sign in to open the reconciliation dashboard.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'user'}")
        st.button("Sign out", on_click=st.logout)
