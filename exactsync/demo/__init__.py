"""The demo month: one coherent scenario for the three sandboxes (see docs/demo.md).

``generate_demo(out_dir, orders=2000, seed=2026, period="2026-10")`` writes the scenario files,
``manifest.json`` and ``exactsync.toml``; :mod:`exactsync.demo.bootstrap` starts the sandboxes
on it and connects exactsync to them.
"""

from __future__ import annotations

from exactsync.demo.generate import DEFAULT_PERIOD, DEFAULT_PORTS, DEFAULT_SEED, DemoSummary, generate_demo, write_config

__all__ = ["DEFAULT_PERIOD", "DEFAULT_PORTS", "DEFAULT_SEED", "DemoSummary", "generate_demo", "write_config"]
