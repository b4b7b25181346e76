"""Our apps in headless Chromium: the browser tests and ``python -m bench.screenshots`` start an app this way.

Chromium is Debian's ``chromium`` (``apt-get install chromium``; never ``playwright install``, which downloads);
the app runs as a subprocess on a free local port and is stopped when the ``with`` block ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "open_page", "serve", "streamlit_command"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def streamlit_command(entry: str | Path, port: int) -> list[str]:
    """``streamlit run entry`` headless on 127.0.0.1:port, without usage stats or a file watcher."""
    return [sys.executable, "-m", "streamlit", "run", str(entry), "--server.port", str(port),
            "--server.headless", "true", "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip


@contextmanager
def serve(
    command: Sequence[str],
    ready_url: str,
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the ``with`` block ends; enter once ``ready_url`` answers.

    Raises:
        RuntimeError: the process exited before it answered (its stderr is in the message).
        TimeoutError: it did not answer within ``timeout`` seconds.
    """
    # stderr to a file, not a pipe: a chatty server would block once a pipe's buffer is full.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env) if env is not None else None,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            t0 = time.time()
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    err = log.read().decode(errors="replace")
                    raise RuntimeError(f"{command[-1]!r} exited before serving {ready_url}: {err[-2000:]}")
                try:
                    urllib.request.urlopen(ready_url, timeout=2)
                    break
                except OSError:
                    if time.time() - t0 > timeout:
                        raise TimeoutError(
                            f"nothing answered at {ready_url} within {timeout:.0f} s"
                        ) from None
                    time.sleep(0.3)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def open_page(pw: Any, url: str, width: int = 1400, height: int = 1100) -> tuple[Any, Any]:
    """Headless Debian Chromium through playwright (``pw``, a started ``sync_playwright()``) on ``url``:
    (browser, page); the caller closes the browser."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    return browser, page
