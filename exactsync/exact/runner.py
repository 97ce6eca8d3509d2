"""Pull several Exact divisions, each on its own: one that cannot be read does not stop the others.

The CLI (``exactsync pull exact``) and the dashboard ("Pull & reconcile") both go through
:func:`pull_divisions`, so both follow one rule per kind of failure:

* the database busy (:class:`~exactsync.store.StoreBusyError`): raised; every other division
  would wait just as long;
* the token failing: the authorisation (exit code 6: not connected, refresh token expired or
  revoked), the client id or secret rejected (exit code 5) or any other
  :class:`~exactsync.exact.oauth.TokenError` (the token endpoint unreachable, say): that division
  is a failure and the divisions after it are not tried (they share the client and the token);
* the daily API limit of a division (:class:`~exactsync.exact.ratelimit.DailyLimitReached`): that
  pull stopped cleanly and resumes where it stopped; it is listed in ``stopped`` and the next
  division is pulled (the limit is per division);
* anything else (no access to the division, Exact's API unreachable, a bug): that division is a
  failure, the next one is pulled.

An :class:`~exactsync.errors.ExactsyncError` is already in ``sync_log`` (``pull_exact`` logs
``division N not pulled: …``); anything else is logged here, by the same rule as the shops' runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from exactsync.errors import EXIT_AUTH, ExactsyncError, SourceFailure
from exactsync.exact.oauth import TokenError

__all__ = ["DivisionPulls", "pull_divisions"]


@dataclass
class DivisionPulls:
    """What :func:`pull_divisions` did, division by division, in order."""

    #: complete pulls (:class:`~exactsync.exact.pull.PullResult`)
    results: list[Any] = field(default_factory=list)
    #: divisions not pulled, with why (``source`` is ``"Division N"``)
    failures: list[SourceFailure] = field(default_factory=list)
    #: the errors behind ``failures``, in the same order (the CLI re-raises a lone one as it is)
    errors: list[BaseException] = field(default_factory=list)
    #: division -> why its pull stopped at the daily API limit (exit code 3; resumed by the next pull)
    stopped: dict[int, SourceFailure] = field(default_factory=dict)
    #: the authorisation failure that stopped the remaining divisions, if any
    fatal: BaseException | None = None
    #: the divisions not tried after it
    skipped: list[int] = field(default_factory=list)

    @property
    def pulled(self) -> int:
        """Divisions that made progress: complete, or stopped cleanly at the daily limit."""
        return len(self.results) + len(self.stopped)


def pull_divisions(
    store: Any,
    settings: Any,
    divisions: Sequence[int],
    *,
    client: Any = None,
    full: bool = False,
    resync: bool = False,
    progress_for: Callable[[int], Any] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> DivisionPulls:
    """Pull each of ``divisions``; one client (and token) for all of them.

    ``progress_for(division)`` gives the ``on_progress`` callback of that division's pull;
    ``on_start`` / ``on_done`` are called around each division (the CLI ends its progress line).
    A ``client`` passed in is left open; one made here is closed.
    """
    from exactsync.exact.pull import LOG_SOURCE, make_client, pull_exact
    from exactsync.exact.ratelimit import DailyLimitReached
    from exactsync.store import Store, StoreBusyError

    pulls = DivisionPulls()

    def failed(i: int, e: BaseException, *, fatal: bool = False) -> bool:
        """Record division ``i``'s failure; True when the divisions after it cannot be pulled either."""
        division = divisions[i]
        failure = SourceFailure.of(f"Division {division}", e)
        if not isinstance(e, ExactsyncError):  # pull_exact logged what it explains
            with store.atomic() as con:
                Store.log_event(con, LOG_SOURCE, f"division {division} not pulled: {failure.message}",
                                level="error", record_key=str(division))
        pulls.failures.append(failure)
        pulls.errors.append(e)
        # every division needs the same client and token: a token that cannot be had stops them all
        if fatal or failure.exit_code == EXIT_AUTH or isinstance(e, TokenError):
            pulls.fatal, pulls.skipped = e, list(divisions[i + 1:])
        return pulls.fatal is not None

    own = client is None
    if own and divisions:
        try:
            client = make_client(settings, store=store)
        except Exception as e:  # noqa: BLE001 - e.g. the Exact settings incomplete: no division can be pulled
            failed(0, e, fatal=True)
            return pulls
    try:
        for i, division in enumerate(divisions):
            if on_start is not None:
                on_start(division)
            try:
                pulls.results.append(pull_exact(
                    store, settings, division, client=client, full=full, resync=resync,
                    on_progress=progress_for(division) if progress_for else None))
            except StoreBusyError:
                raise
            except DailyLimitReached as e:
                pulls.stopped[division] = SourceFailure.of(f"Division {division}", e)
            except Exception as e:  # noqa: BLE001 - one division's failure is reported, the others go on
                if failed(i, e):
                    break
            finally:
                if on_done is not None:
                    on_done(division)
    finally:
        if own and client is not None:
            client.close()
    return pulls
