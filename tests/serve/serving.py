"""What the explorer's tests share: tiny runs trained in the test, a tiny live config, and a real server on a free
port of 127.0.0.1 in a thread (for raw HTTP and the browser)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import yaml

import ganforge
from conftest import TINY_CONFIGS, tiny_config
from ganforge.config import config_from_dict, load_config


def train_tiny(out: Path, **over) -> Path:
    """A 4-step run of the tiny DCGAN on 16-px digits (a cgan with family="cgan")."""
    ganforge.train(config_from_dict(tiny_config(**{"train__steps": 4, "checkpoint__every": 4} | over)), out=out)
    return out


def train_tiny_text(out: Path) -> Path:
    """A 4-step text-to-image run on captioned 16-px digits, embedded by the hashed-words encoder (no model)."""
    raw = yaml.safe_load((TINY_CONFIGS / "text2image.yaml").read_text())
    ganforge.train(config_from_dict(raw | {"train": raw["train"] | {"steps": 4}}), out=out)
    return out


def live_config():
    """toy-ring8 made small: 2,000 points, a 32-wide G and D, batch 64."""
    return load_config("toy-ring8", ["data.num_samples=2000", "nets.G.args.hidden=[32, 32]",
                                     "nets.D.args.hidden=[32, 32]", "train.batch_size=64"])


@contextmanager
def running(app):
    """Serve `app` on 127.0.0.1 at a free port in a thread; yields the base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
