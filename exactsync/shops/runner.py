"""Pull several shops, each on its own: one that cannot be read does not stop the others.

The CLI (``exactsync pull shop``) and the dashboard ("Pull & reconcile") both go through
:func:`pull_shops`. A shop that fails is one :class:`~exactsync.errors.SourceFailure`. An
:class:`~exactsync.errors.ExactsyncError` (a refusal, an unreachable shop, a missing setting) is
already in ``sync_log``: a connector logs every error it explains, with the calls it made; anything
else (a bug) is logged here. The database being busy stops the whole job.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Sequence

from exactsync.errors import ExactsyncError, SourceFailure
from exactsync.shops.base import ProgressCallback, PullResult

__all__ = ["SHOP_PULLERS", "puller", "pull_shops"]

#: shop kind -> "module:function(store, shop_settings, *, on_progress=..., full=...) -> PullResult"
SHOP_PULLERS = {
    "woocommerce": "exactsync.shops.woocommerce:pull_woocommerce",
    "magento": "exactsync.shops.magento:pull_magento",
}


def puller(kind: str) -> Callable[..., PullResult]:
    """The pull function of a shop kind (imported on first use)."""
    module, name = SHOP_PULLERS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def pull_shops(store: Any, shops: Sequence[Any], *,
               progress_for: Callable[[str], ProgressCallback | None] | None = None,
               resync: bool = False,
               ) -> tuple[list[PullResult], list[SourceFailure]]:
    """Pull each of ``shops`` (ShopSettings); returns the results and the failures, in order.

    ``resync``: re-read every document from the start instead of since the saved cursors (the
    connectors' ``full``; rows are upserted, so nothing is doubled)."""
    from exactsync.store import Store, StoreBusyError

    results: list[PullResult] = []
    failures: list[SourceFailure] = []
    for shop in shops:
        on_progress = progress_for(shop.name) if progress_for else None
        try:
            results.append(puller(shop.kind)(store, shop, on_progress=on_progress, full=resync))
        except StoreBusyError:
            raise  # every other shop would wait just as long
        except Exception as e:  # noqa: BLE001 - one shop's failure is reported, the others go on
            failure = SourceFailure.of(shop.name, e)
            if not isinstance(e, ExactsyncError):  # the connector logged what it explains
                with store.atomic() as con:
                    Store.log_event(con, f"shop:{shop.name}", failure.message, level="error")
            failures.append(failure)
    return results, failures

