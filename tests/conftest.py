"""Shared fixtures: isolated environment, real DuckDB files in tmp_path, browser discovery."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """No test sees the developer's EXACTSYNC_* variables."""
    for var in list(os.environ):
        if var.startswith("EXACTSYNC_"):
            monkeypatch.delenv(var, raising=False)


@pytest.fixture
def store(tmp_path):
    from exactsync.store import Store

    return Store.open(tmp_path / "exactsync.duckdb", lock_timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, or skip locally; in CI (CI=true) a missing browser is a failure."""
    path = chromium_path()
    if path is None:
        if IN_CI:
            pytest.fail("CI=true but chromium is not installed: browser tests must run in CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return path


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def start_streamlit(port: int, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90.0) -> float:
    import httpx2

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            out, _ = proc.communicate()
            raise AssertionError(f"streamlit exited early ({proc.returncode}):\n{out[-3000:]}")
        try:
            r = httpx2.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            if r.status_code == 200:
                return time.monotonic() - start
        except httpx2.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"streamlit did not answer /_stcore/health within {timeout} s")


def stop_process(proc: subprocess.Popen) -> str:
    """Stop a server process and return what it printed (pipes closed)."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


@pytest.fixture(scope="session")
def soffice():
    """LibreOffice (Debian's libreoffice-calc-nogui), or skip locally; in CI a missing one is a failure."""
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        if IN_CI:
            pytest.fail("CI=true but LibreOffice is not installed: the spreadsheet test must run in CI "
                        "(.ci/run installs libreoffice-calc-nogui)")
        pytest.skip("LibreOffice not installed (apt-get install -y libreoffice-calc-nogui)")
    return path
