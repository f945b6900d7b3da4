"""The explorer's web app (Flask): the pages, their static files and a JSON/PNG route per thing a page asks for.

Every answer is bounded (samples, frames, neighbours, picture size) and every refusal is a 4xx whose body says
why, as JSON {"error": …}; nothing the server meets becomes a traceback page."""
from __future__ import annotations

import threading
from importlib import resources

import torch
from flask import Flask, Response, jsonify, redirect, request
from werkzeug.exceptions import HTTPException

from ..errors import GanforgeError
from ..images import grid, to_uint8
from .frames import live_frame, png
from .live import LiveTrainer
from .runs import MAX_CAPTION_ROWS, MAX_NEIGHBOURS, MAX_POINTS, MAX_SAMPLES, MAX_STEPS, MAX_TEST_INDEX, RunSet

STATIC = resources.files("ganforge.serve") / "static"
MAX_SEED = 2**31 - 1
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_COORD = 10.0  # a slider moves z at most this far along a direction


class BadRequest(GanforgeError):
    """A request's parameter is missing, malformed or out of bounds (answered 400)."""


class NotFound(GanforgeError):
    """A run, page or route that this server does not have (answered 404)."""


def _int(name: str, default: int | None, lo: int, hi: int) -> int | None:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name}={text!r}: an integer expected") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name}={value}: must lie in {lo}–{hi}")
    return value


def _coords() -> list[float]:
    text = request.args.get("coords", "")
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BadRequest(f"coords={text!r}: comma-separated numbers expected") from None
    if any(not abs(v) <= MAX_COORD for v in values):  # also refuses NaN
        raise BadRequest(f"coords: each value must lie in −{MAX_COORD:g}–{MAX_COORD:g}")
    return values


def _png_response(image, scale: int = 1, **headers) -> Response:
    response = Response(png(image, scale), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    for k, v in headers.items():
        response.headers[k] = v
    return response


def _translation_png(rows, captions: list[str]) -> Response:
    """Translation rows (one per caption, all as wide) as one picture, the captions in a header."""
    cols = len(rows) // len(captions)
    scale = max(1, min(96 // rows.shape[-1], 512 // (cols * rows.shape[-1])))
    return _png_response(grid(to_uint8(rows), cols=cols), scale, **{"X-Captions": " / ".join(captions)})


def create_app(run_paths: list = (), live: LiveTrainer | None = None) -> Flask:
    """The app serving `run_paths` (each loaded once, here) and, with `live`, the live 2-D view."""
    runs = RunSet(list(run_paths))
    app = Flask("ganforge.serve", static_folder=str(STATIC), static_url_path="/static")
    app.json.sort_keys = False  # the live switches in the order SWITCHES lists them
    app.url_map.merge_slashes = False  # '//x' is refused, not redirected to '/x'
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES  # small JSON commands, or one image to translate
    app.extensions["ganforge_runs"] = runs
    app.extensions["ganforge_live"] = live
    frame_lock, frame_cache = threading.Lock(), {}  # the newest live frame, drawn once for all request threads

    def run_or_404(key: str):
        try:
            return runs[key]
        except LookupError as e:
            raise NotFound(str(e)) from None

    # -- errors: a JSON line, never a traceback page -----------------------------------------------------------
    @app.errorhandler(GanforgeError)
    def user_error(e: GanforgeError):
        return jsonify(error=str(e)), 404 if isinstance(e, NotFound) else 400

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        return jsonify(error=f"{e.name}: {e.description}"), e.code

    @app.errorhandler(Exception)
    def internal_error(e: Exception):
        app.logger.exception("request failed")
        return jsonify(error=f"internal error ({type(e).__name__}); the server's log has the details"), 500

    @app.after_request
    def no_external(response: Response) -> Response:
        # the pages load nothing from elsewhere, and may not
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data: blob:; "
                                                       "style-src 'self'; script-src 'self'")
        return response

    # -- pages ---------------------------------------------------------------------------------------------------
    @app.get("/")
    def index():
        if not runs.runs and live is not None:
            return redirect("/live")
        return app.send_static_file("explorer.html")

    @app.get("/live")
    def live_page():
        if live is None:
            raise NotFound("this server has no live view: start it with `ganforge serve --live CONFIG`")
        return app.send_static_file("live.html")

    # -- runs ----------------------------------------------------------------------------------------------------
    @app.get("/api/runs")
    def list_runs():
        return jsonify(runs=[r.describe() for r in runs.runs], live=live is not None)

    @app.get("/api/runs/<key>/samples.png")
    def samples(key: str):
        run = run_or_404(key)
        most = MAX_POINTS if run.gen.kind != "image" else MAX_SAMPLES
        n = _int("n", 16, 1, most)
        label = _int("label", None, 0, MAX_SEED)  # the run says which classes it has
        x = run.samples(n, _int("seed", 0, 0, MAX_SEED), _coords(), label, request.args.get("caption"))
        image, scale = run.picture(x, _int("cols", min(n, 8), 1, MAX_SAMPLES))
        return _png_response(image, scale)

    @app.get("/api/runs/<key>/interpolate.png")
    def interpolate(key: str):
        run = run_or_404(key)
        steps = _int("steps", 8, 2, MAX_STEPS)
        label = _int("label", None, 0, MAX_SEED)  # the run says which classes it has
        x = run.interpolation(_int("a", 0, 0, MAX_SEED), _int("b", 1, 0, MAX_SEED), steps, label,
                              request.args.get("caption"))
        image, scale = run.picture(x, steps)
        return _png_response(image, scale)

    @app.get("/api/runs/<key>/captions.png")
    def caption_walk(key: str):
        """A text run's walk from caption `from` to caption `to`: `rows` z, `steps` frames each."""
        run = run_or_404(key)
        steps = _int("steps", 8, 2, MAX_STEPS)
        x = run.caption_walk(request.args.get("from"), request.args.get("to"), _int("rows", 2, 1, MAX_CAPTION_ROWS),
                             steps, _int("seed", 0, 0, MAX_SEED))
        image, scale = run.picture(x, steps)
        return _png_response(image, scale)

    @app.get("/api/runs/<key>/nearest.png")
    def nearest(key: str):
        """Sample `index` of the samples picture with the same parameters, then its k nearest training images."""
        run = run_or_404(key)
        if run.gen.kind != "image":
            raise BadRequest(f"run {run.name} makes points; the memorisation check compares images")
        n = _int("n", 16, 1, MAX_SAMPLES)
        label = _int("label", None, 0, MAX_SEED)  # the run says which classes it has
        x = run.samples(n, _int("seed", 0, 0, MAX_SEED), _coords(), label, request.args.get("caption"))
        sample = x[_int("index", 0, 0, n - 1)]
        found, dist = run.nearest(sample, _int("k", 4, 1, MAX_NEIGHBOURS))
        image, scale = run.picture(torch.cat([sample[None], found]), 1 + len(found))
        return _png_response(image, scale, **{"X-Distances": ",".join(map(str, dist))})

    @app.get("/api/runs/<key>/translate.png")
    def translate(key: str):
        run = run_or_404(key)
        return _translation_png(*run.translation(_int("index", 0, 0, MAX_TEST_INDEX)))

    @app.post("/api/runs/<key>/translate.png")
    def translate_upload(key: str):
        run = run_or_404(key)
        upload = request.files.get("image")
        if upload is None:
            raise BadRequest("post the image to translate as the form field 'image'")
        rows, captions = run.translate_upload(upload.read())
        return _translation_png(rows, captions)

    # -- the live 2-D view -----------------------------------------------------------------------------------------
    def the_live() -> LiveTrainer:
        if live is None:
            raise NotFound("this server has no live view: start it with `ganforge serve --live CONFIG`")
        return live

    @app.get("/api/live/state")
    def live_state():
        return jsonify(the_live().state())

    @app.get("/api/live/frame.png")
    def live_frame_png():
        snap = the_live().snapshot
        with frame_lock:
            if frame_cache.get("version") != snap.version:
                frame_cache.update(version=snap.version, png=live_frame(snap))
            data = frame_cache["png"]
        response = Response(data, mimetype="image/png")
        response.headers["X-Frame-Version"] = str(snap.version)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.post("/api/live/command")
    def live_command():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            raise BadRequest('a JSON object {"action": "start" | "pause" | "step" | "restart", …} expected')
        if body["action"] == "stop":
            raise BadRequest("stop is not a page's action; start, pause, step or restart")
        args = {k: v for k, v in body.items() if k in ("n", "options")}
        the_live().command(body["action"], **args)
        return jsonify(queued=body["action"])

    return app

