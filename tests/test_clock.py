"""FileClock: one simulated clock shared by processes through a file."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from exactsync.clock import FileClock


def test_file_clock_is_shared_between_processes(tmp_path):
    path = tmp_path / "clock"
    start = dt.datetime(2026, 6, 1, 10, 0, 5, tzinfo=dt.timezone.utc)
    clock = FileClock(path, start=start)
    assert clock.now() == start and clock.monotonic() == start.timestamp()
    clock.sleep(60)  # sleeping advances the clock, it costs no wall time
    code = ("import sys; from exactsync.clock import FileClock; c = FileClock(sys.argv[1]); "
            "print(c.time()); [c.sleep(0.5) for _ in range(200)]")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == start.timestamp() + 60  # the other process sees this one's time
    assert clock.time() == start.timestamp() + 160  # and this one sees its 200 sleeps
    clock.advance(-160)
    assert FileClock(path).now() == start  # reopening without start keeps the file's time
    clock.close()


def test_file_clock_advances_from_two_processes_are_never_lost(tmp_path):
    path = tmp_path / "clock"
    clock = FileClock(path, start=0)
    code = ("import sys; from exactsync.clock import FileClock; c = FileClock(sys.argv[1]); "
            "[c.advance(1) for _ in range(500)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)]) for _ in range(2)]
    for _ in range(500):
        clock.advance(1)
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert clock.time() == 1500
