"""`ganforge serve`: a local explorer of trained runs and a live 2-D view of training, in the browser.

Flask is an optional dependency (`pip install 'ganforge[serve]'`); this module imports it only when asked to serve,
so that without it the command can say in one line how to get it."""
from __future__ import annotations

import sys

from ..errors import GanforgeError

INSTALL = "ganforge serve needs Flask: pip install 'ganforge[serve]'"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def make_app(run_paths=(), live_config=None):
    """The Flask app for `run_paths` and, with `live_config` (a RunConfig of 2-D data), the live view; raises a
    GanforgeError without Flask, or when a run or the config cannot be loaded."""
    try:
        import flask  # noqa: F401  (an optional dependency: imported when serving, to say how to install it)
    except ImportError:
        raise GanforgeError(INSTALL) from None
    from .app import create_app
    from .live import LiveTrainer

    if not run_paths and live_config is None:
        raise GanforgeError("ganforge serve: give one or more RUN folders, or --live CONFIG (or both)")
    live = LiveTrainer(live_config) if live_config is not None else None
    return create_app(list(run_paths), live)


def serve(run_paths=(), live_config=None, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until Ctrl-C with werkzeug's threaded server, bound to `host` (127.0.0.1 unless told otherwise)."""
    app = make_app(run_paths, live_config)
    from werkzeug.serving import run_simple

    if host not in LOCAL_HOSTS:
        print(f"warning: --host {host}: the explorer is reachable from other machines; it has no login",
              file=sys.stderr)
    print(f"ganforge serve: http://{'[' + host + ']' if ':' in host else host}:{port}/  (Ctrl-C stops)", flush=True)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    except OSError as e:
        raise GanforgeError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror or e})") from None
