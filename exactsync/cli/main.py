"""``exactsync``: the command line for cron, bulk sync and diagnostics.

Global options (accepted before any command): ``--config FILE`` (an exactsync.toml), ``--json``
(machine-readable output), ``-v`` (more logging to stderr). Exit codes: see
:mod:`exactsync.errors` (0 ok, 1 failure, 2 usage, 3 partial, 4 database busy, 5 configuration,
6 authorisation needed).

Every other module in :mod:`exactsync.cli` is imported by :func:`main` and adds its commands to
:data:`cli` or to one of the groups defined here (``pull``, ``exact``, ``sandbox``, ``demo``)::

    from exactsync.cli.main import cli, pass_ctx, emit
    @cli.command()
    @pass_ctx
    def reconcile(ctx, ...): ...
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import click

from exactsync.errors import ExactsyncError
from exactsync.redact import install_log_filter, redact

__all__ = ["cli", "main", "Ctx", "pass_ctx", "check_divisions", "emit", "pull", "exact", "sandbox", "demo"]


@dataclass
class Ctx:
    """What every command gets: settings and store are loaded on first use."""

    config: Path | None = None
    json: bool = False
    verbose: int = 0
    _settings: Any = None
    _store: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the hidden ``--simulated-clock FILE`` (tests and benchmarks): a clock shared with a sandbox
    clock_file: Path | None = None
    _clock: Any = None

    @property
    def clock(self):
        """The real clock, or the :class:`~exactsync.clock.FileClock` of ``--simulated-clock``."""
        if self._clock is None:
            from exactsync.clock import SYSTEM_CLOCK, FileClock

            if self.clock_file is None:
                self._clock = SYSTEM_CLOCK
            else:
                click.echo(f"Using the simulated clock in {self.clock_file} (tests and benchmarks only).", err=True)
                self._clock = FileClock(self.clock_file)
        return self._clock

    @property
    def settings(self):
        if self._settings is None:
            from exactsync.settings import load_settings

            self._settings = load_settings(self.config)
        return self._settings

    @property
    def store(self):
        if self._store is None:
            from exactsync.store import Store

            self._store = Store.from_settings(self.settings, on_wait=lambda m: click.echo(m, err=True))
        return self._store

    def progress(self, label: str) -> Callable[[int, int | None, str], None]:
        """A progress callback ``(done, total, message)`` printing a bar to stderr (quiet with --json).

        On a terminal the bar redraws one line. Anywhere else (cron mail, a log file) it prints whole
        lines, and only the first, one per tenth of the total (one per 30 s without a total) and the
        last, so a job's log shows how far it got without thousands of redraws."""
        tty = _stderr_is_tty()
        shown: dict[str, Any] = {"step": -1, "at": 0.0, "message": None}

        def report(done: int, total: int | None, message: str = "") -> None:
            if self.json:
                return
            of = f"/{total}" if total else ""
            bar = ""
            if total:
                filled = int(20 * min(done, total) / total)
                bar = "[" + "#" * filled + "-" * (20 - filled) + "] "
            finished = bool(total) and done >= total
            # a stage starting without a count yet reads "tax rates…", not "0 tax rates"
            line = f"{label}: {message}…" if not total and not done and message else f"{label}: {bar}{done}{of} {message}"
            if tty:
                click.echo(f"\r{line}".ljust(79)[:200], err=True, nl=False)
                _open_line[0] = True
                if finished:
                    click.echo("", err=True)
                    _open_line[0] = False
                return
            now = time.monotonic()
            step = int(10 * min(done, total) / total) if total else None
            if finished or (step is not None and step > shown["step"]) or shown["step"] == -1 or (
                    step is None and (message != shown["message"] or now - shown["at"] >= _PLAIN_PROGRESS_SECONDS)):
                if _unshown[0] and message != shown["message"]:
                    click.echo(_unshown[0], err=True)  # where the stage before ended ("8830 transaction lines")
                click.echo(line.rstrip()[:200], err=True)
                shown.update(step=step if step is not None else 0, at=now, message=message)
                _unshown[0] = None
            elif not total:
                _unshown[0] = line.rstrip()[:200]  # a count not printed yet: shown when the stage or job ends

        return report


def end_progress_line() -> None:
    """Ends a terminal progress bar left mid-line (a bar without a total never finishes itself);
    nothing when no bar is open, so a log gets no blank lines. In a log, prints the last count of a
    stage without a total that was not printed yet (the count it ended on)."""
    if _open_line[0]:
        click.echo("", err=True)
        _open_line[0] = False
    if _unshown[0]:
        click.echo(_unshown[0], err=True)
        _unshown[0] = None


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


#: without a total, a non-terminal progress line at most this often
_PLAIN_PROGRESS_SECONDS = 30.0


pass_ctx = click.make_pass_decorator(Ctx)


def check_divisions(ctx: Ctx, divisions: Any) -> None:
    """Divisions typed on the command line must be known: configured (``exact.divisions``, a shop's
    ``division``) or pulled; else a usage error (exit 2) naming the known ones. It is the check
    ``reconcile --division`` makes (the reconciliation's scope), not a copy of it."""
    if not divisions:
        return
    from exactsync.reconcile import check_divisions as check

    with ctx.store.read() as con:
        check(con, ctx.settings, [int(d) for d in divisions])


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def emit(ctx: Ctx, data: Any, human: str | Callable[[], str] | None = None) -> None:
    """Print ``data`` as JSON with ``--json``, else the human text (or a readable dump)."""
    if ctx.json:
        click.echo(redact(json.dumps(data, default=_default, indent=2, ensure_ascii=False)))
        return
    text = human() if callable(human) else human
    if text is None:
        text = json.dumps(data, default=_default, indent=2, ensure_ascii=False)
    click.echo(redact(text))


#: whether a progress bar left its line open on stderr (the next message then starts a new line)
_open_line = [False]
#: in a log (not a terminal): the last count of a stage without a total, not printed yet
_unshown: list[str | None] = [None]


class ExactsyncGroup(click.Group):
    """Turns every :class:`ExactsyncError` into its message and exit code: no tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExactsyncError as e:
            if _open_line[0]:  # a progress bar is mid-line: the error starts on its own line
                click.echo("", err=True)
                _open_line[0] = False
            click.echo(f"Error: {redact(e)}", err=True)
            ctx.exit(e.exit_code)


@click.group(cls=ExactsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), envvar="EXACTSYNC_CONFIG",
              help="exactsync.toml to use (default: ./exactsync.toml if present).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.option("--simulated-clock", "clock_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              hidden=True, help="Tests and benchmarks: read the time from this FileClock (shared with a sandbox).")
@click.version_option(package_name="exactsync")
@click.pass_context
def cli(click_ctx: click.Context, config: Path | None, as_json: bool, verbose: int, clock_file: Path | None) -> None:
    """exactsync: is everything the webshop sold booked correctly in Exact Online?"""
    install_log_filter()
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    click_ctx.obj = Ctx(config=config, json=as_json, verbose=verbose, clock_file=clock_file)


@cli.group()
def pull() -> None:
    """Pull shop documents or Exact entries into the database."""


@cli.group()
def exact() -> None:
    """Connect to Exact Online and test the connection."""


@cli.group()
def sandbox() -> None:
    """Run the local sandboxes of Exact Online, WooCommerce and Magento."""


@cli.group()
def demo() -> None:
    """Generate and use the demo scenario."""


_loaded = False


def load_commands() -> None:
    """Import every command module of this package (once)."""
    global _loaded
    if _loaded:
        return
    import exactsync.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name != "main":
            importlib.import_module(f"exactsync.cli.{info.name}")
    _loaded = True


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    load_commands()
    cli.main(args=argv, prog_name="exactsync")
