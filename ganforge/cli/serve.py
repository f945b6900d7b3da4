"""`ganforge serve`: the local explorer of runs, and the live 2-D view of a toy config training."""
from __future__ import annotations

from ..config import load_config
from ..serve import serve as serve_pages
from .types import count


def register(sub) -> None:
    """Add `serve` to the subcommands."""
    s = sub.add_parser("serve", help="explore runs in the browser (latent sliders, classes, translations, nearest "
                                     "training images), or watch a 2-D GAN train live (--live)")
    s.add_argument("runs", nargs="*", metavar="RUN", help="run folders to show side by side")
    s.add_argument("--live", metavar="CONFIG", help="train this 2-D config live in the page (e.g. toy-ring8)")
    s.add_argument("--port", type=count(1), default=8000, help="port to listen on (default 8000)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; another one warns)")
    s.set_defaults(run=serve)


def serve(args) -> None:
    """Load the runs (and the live config), then serve until Ctrl-C."""
    live = load_config(args.live) if args.live is not None else None
    serve_pages(args.runs, live, host=args.host, port=args.port)
