"""``exactsync demo generate`` and ``exactsync demo run`` (see docs/demo.md)."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import click

from exactsync.cli.main import Ctx, demo, emit, pass_ctx
from exactsync.demo.generate import DEFAULT_PERIOD, DEFAULT_SEED, generate_demo

__all__ = ["generate_cmd", "run_cmd"]


def _period(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    m = re.fullmatch(r"(\d{4})-(\d{2})", value or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise click.BadParameter("use YYYY-MM, e.g. 2026-10")
    return value


@demo.command("generate")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the scenario into (created if missing).")
@click.option("--orders", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Number of orders in the month (1,000,000 for benchmarks).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Same seed, same files.")
@click.option("--period", default=DEFAULT_PERIOD, show_default=True, callback=_period, help="The month, YYYY-MM.")
@pass_ctx
def generate_cmd(ctx: Ctx, out: Path, orders: int, seed: int, period: str) -> None:
    """Write the demo month for the three sandboxes (+ manifest.json and exactsync.toml) into OUT."""
    summary = generate_demo(out, orders=orders, seed=seed, period=period, on_progress=ctx.progress("generating"))
    data = {"out": str(summary.out_dir), "orders": summary.orders, "seed": summary.seed, "period": summary.period,
            "documents": summary.documents, "exact_entries": summary.entries, "planted_cases": summary.cases}
    emit(ctx, data, lambda: (
        f"Demo month {summary.period} (seed {summary.seed}) written to {summary.out_dir}: {summary.orders} orders, "
        f"{summary.documents} shop documents, {summary.entries} Exact entries, {summary.cases} planted cases.\n"
        f"Next: exactsync sandbox serve --scenario {summary.out_dir}\n"
        f"      exactsync --config {summary.out_dir / 'exactsync.toml'} exact connect --sandbox-approve\n"
        f"      exactsync --config {summary.out_dir / 'exactsync.toml'} pull shop  (and: pull exact)"))


@demo.command("run")
@click.option("--dir", "base_dir", default="demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Demo directory (generated there first if missing).")
@click.option("--orders", type=click.IntRange(min=100), default=2000, show_default=True)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="Keep the sandboxes running after the pull (until Ctrl-C).")
@pass_ctx
def run_cmd(ctx: Ctx, base_dir: Path, orders: int, seed: int, serve: bool) -> None:
    """Start the sandboxes on the demo month, connect, and pull everything into DIR/data."""
    from exactsync.demo.bootstrap import run_demo_pipeline, start_demo
    from exactsync.store import Store

    # serving for later commands: they read DIR/exactsync.toml, so the sandboxes must be on its ports
    env = start_demo(base_dir, orders=orders, seed=seed, on_progress=ctx.progress("demo"), fixed_ports=serve)
    try:
        store = Store.from_settings(env.settings)
        summary = run_demo_pipeline(env, store, on_progress=ctx.progress("pull"))
        data = {"urls": env.urls, "store": str(env.settings.store.path), "pull": summary,
                "config": str(base_dir / "exactsync.toml")}
        emit(ctx, data, lambda: "\n".join(
            [f"{name} {url}" for name, url in env.urls.items()]
            + [f"store {env.settings.store.path}",
               "pulled: " + ", ".join(f"{k} {v['documents']} documents"
                                      + (f" ({v['errors']} record(s) skipped: see the sync log, `exactsync --config "
                                         f"{data['config']} log --source shop:{k}`)" if v["errors"] else "")
                                      for k, v in summary["shops"].items())
               + ", " + ", ".join(f"Exact {k} {v['entries']} entries" for k, v in summary["exact"].items())]
            + [f"push mappings of division {d}: " + ("; ".join(p) if p else "ready (the demo's codes, unless already set)")
               for d, p in summary["mappings"].items()]))
        if serve:
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            while not stop.wait(0.5):
                pass
    finally:
        env.stop()
