"""Every module states its public names; the package's __all__ matches what it exports."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import exactsync


def test_package_all_is_sorted_and_complete():
    public = {n for n in dir(exactsync) if not n.startswith("_") and not isinstance(getattr(exactsync, n), type(exactsync))}
    public.discard("annotations")
    assert len(exactsync.__all__) == len(set(exactsync.__all__)), "duplicates in __all__"
    assert public - {"__version__"} <= set(exactsync.__all__)


def test_every_library_module_declares_all_and_never_imports_streamlit():
    skip_prefixes = ("exactsync.ui", "exactsync.__main__")
    for info in pkgutil.walk_packages(exactsync.__path__, "exactsync."):
        name = info.name
        if name.startswith(skip_prefixes) or ".migrations.m" in name:
            continue
        module = importlib.import_module(name)
        assert hasattr(module, "__all__") or info.ispkg, f"{name} has no __all__"
        for item in getattr(module, "__all__", []):
            assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    import sys

    offenders = [m for m in sys.modules if m.startswith("exactsync") and not m.startswith("exactsync.ui")]
    assert offenders
    for name in offenders:
        mod = sys.modules[name]
        src = getattr(mod, "__file__", None)
        if src and src.endswith(".py"):
            text = Path(src).read_text(encoding="utf-8")
            assert "import streamlit" not in text and "from streamlit" not in text, name
