"""``exactsync pull shop [--shop NAME]``: pull shop documents into the database."""

from __future__ import annotations

import importlib
from dataclasses import asdict

import click

from exactsync.cli.main import Ctx, emit, pass_ctx, pull
from exactsync.errors import EXIT_PARTIAL, ExactsyncError

__all__ = ["pull_shop", "PULLERS"]

#: shop kind -> "module:function(store, shop_settings, *, on_progress=...) -> PullResult"
PULLERS = {
    "woocommerce": "exactsync.shops.woocommerce:pull_woocommerce",
    "magento": "exactsync.shops.magento:pull_magento",
}


def _puller(kind: str):
    module, name = PULLERS[kind].split(":")
    return getattr(importlib.import_module(module), name)


@pull.command("shop")
@click.option("--shop", "names", multiple=True, help="Shop name from the settings (repeatable; default: all).")
@pass_ctx
def pull_shop(ctx: Ctx, names: tuple[str, ...]) -> None:
    """Pull orders, invoices and refunds / credit memos of the configured shops."""
    settings = ctx.settings
    shops = [settings.shop(n) for n in names] if names else list(settings.shops.values())
    if not shops:
        raise ExactsyncError("no shops configured: add a [shops.<name>] table to exactsync.toml") from None
    results = []
    for shop in shops:
        result = _puller(shop.kind)(ctx.store, shop, on_progress=ctx.progress(f"{shop.name}"))
        results.append(result)
    data = [asdict(r) for r in results]

    def human() -> str:
        lines = []
        for r in results:
            state = "ok" if r.errors == 0 else f"{r.errors} record error(s), see the sync log"
            lines.append(f"{r.shop}: {r.documents} documents, {r.vat_lines} VAT lines, {r.calls} calls: {state}")
        return "\n".join(lines)

    emit(ctx, data, human)
    if any(r.errors for r in results):
        ctx.extra["exit_code"] = EXIT_PARTIAL
        click.get_current_context().exit(EXIT_PARTIAL)


