"""Pull several shops, each on its own: one that cannot be read does not stop the others.

The CLI (``exactsync pull shop``) and the dashboard ("Pull & reconcile") both go through
:func:`pull_shops`. A shop that fails is one :class:`~exactsync.errors.SourceFailure` (its
message is already in ``sync_log``: the connectors log their own refusals and missing settings;
anything else is logged here); the database being busy stops the whole job.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Sequence

from exactsync.errors import SourceFailure
from exactsync.shops.base import ProgressCallback, PullResult

__all__ = ["SHOP_PULLERS", "puller", "pull_shops"]

#: shop kind -> "module:function(store, shop_settings, *, on_progress=...) -> PullResult"
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
               ) -> tuple[list[PullResult], list[SourceFailure]]:
    """Pull each of ``shops`` (ShopSettings); returns the results and the failures, in order."""
    from exactsync.store import Store, StoreBusyError

    results: list[PullResult] = []
    failures: list[SourceFailure] = []
    for shop in shops:
        on_progress = progress_for(shop.name) if progress_for else None
        try:
            results.append(puller(shop.kind)(store, shop, on_progress=on_progress))
        except StoreBusyError:
            raise  # every other shop would wait just as long
        except Exception as e:  # noqa: BLE001 - one shop's failure is reported, the others go on
            failure = SourceFailure.of(shop.name, e)
            if not _logged_by_connector(e):
                with store.atomic() as con:
                    Store.log_event(con, f"shop:{shop.name}", failure.message, level="error")
            failures.append(failure)
    return results, failures


def _logged_by_connector(error: BaseException) -> bool:
    from exactsync.settings import SettingsError
    from exactsync.shops.magento import MagentoError
    from exactsync.shops.woocommerce import WooApiError

    return isinstance(error, (SettingsError, MagentoError, WooApiError))
