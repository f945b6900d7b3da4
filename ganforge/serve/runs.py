"""The runs an explorer shows, loaded once each through ganforge.api, and what a page asks of one: samples at
given latent coordinates, interpolations, nearest training images, translations. Requests name a run by its index
in the list the server was started with (or its unique name), never by path: no other file can be reached."""
from __future__ import annotations

import io
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import api
from ..errors import GanforgeError
from ..images import grid, scatter, to_uint8

MAX_SAMPLES = 64  # images a request may ask for
MAX_POINTS = 4096  # points of a vector run a request may ask for
MAX_STEPS = 16  # frames of an interpolation
MAX_NEIGHBOURS = 8
NEAREST_POOL = 2000  # training examples a memorisation check searches (the first ones of the training split)
MAX_SIDE = 512  # no picture a request gets is wider or taller than this (before the page scales it)
MAX_TEST_INDEX = 999  # translation inputs: the first 1,000 test images
MAX_UPLOAD_PIXELS = 4096 * 4096  # an uploaded image is read only if it is no larger
MAX_CAPTION = 200  # characters of a caption a request may give (a sentence; the encoder's work stays small)
MAX_CAPTION_ROWS = 4  # z rows of a caption-to-caption walk
# a text run's first caption in the page (its latent directions are found at it): one its data's captions could say
START_CAPTIONS = {"fashion-mnist": "a dark long-sleeved pullover", "digits": "a digit seven", "mnist": "a digit seven"}


class ExplorerRun:
    """One run: its generator (EMA weights when kept), latent directions, and for translation runs one translator
    per direction. Calls that use the networks hold the run's lock (the server answers in threads)."""

    def __init__(self, index: int, path: Path, name: str):
        self.index, self.path, self.name = index, path, name
        self.lock = threading.Lock()
        self.text, self.start_caption = False, None  # a text-to-image run: its samples are of a caption
        self.directions_learnt = api.translation_directions(path)
        self.translators: dict[str, api.Generator] = {}
        self._pool: torch.Tensor | None = None
        self._tests: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        if self.directions_learnt:
            self.translators = {d: api.translator(path, d) for d in self.directions_learnt}
            self.gen = next(iter(self.translators.values()))
            self.dirs, self.dir_names = torch.empty(0, self.gen.cfg.latent_dim), []
        else:
            self.gen = api.load(path)
            self.text = api.TEXT_FIELD in self.gen.conditions
            if self.gen.conditions and not (self.text and len(self.gen.conditions) == 1):
                raise GanforgeError(f"{path}: family '{self.gen.cfg.family}' takes {', '.join(self.gen.conditions)} "
                                    "beside z; the explorer shows G(z), class-conditional, text-to-image and "
                                    "translation runs")
            self.start_caption = START_CAPTIONS.get(self.gen.info["dataset"], "a picture") if self.text else None
            held = self.embed(self.start_caption) if self.text else None
            self.dirs, self.dir_names = api.latent_directions(self.gen, condition=held)

    def describe(self) -> dict:
        """What the page needs to build this run's controls."""
        g = self.gen
        return {"index": self.index, "name": self.name, "family": g.cfg.family, "dataset": g.info["dataset"],
                "kind": g.kind, "shape": list(g.shape), "step": g.step, "latent_dim": g.cfg.latent_dim,
                "num_classes": g.num_classes, "generators": g.num_generators, "directions": self.dir_names,
                "translation": self.directions_learnt, "max_samples": MAX_SAMPLES,
                "caption": self.start_caption, "max_caption": MAX_CAPTION}

    # -- G(z) --------------------------------------------------------------------------------------------------
    def _check_generates(self) -> None:
        if self.directions_learnt:
            raise GanforgeError(f"run {self.name} translates images (family {self.gen.cfg.family}): ask for "
                                "translate.png, not samples of z")

    def latents(self, n: int, seed: int, coords: list[float]) -> torch.Tensor:
        """n draws of z (seeded), each moved by Σ coords[k] · direction k."""
        if len(coords) > len(self.dirs):
            raise GanforgeError(f"coords: {len(coords)} values for {len(self.dirs)} directions "
                                f"({', '.join(self.dir_names)})")
        z = self.gen.latents(n, seed)
        if coords:
            z = z + torch.tensor(coords, dtype=torch.float32) @ self.dirs[:len(coords)]
        return z

    def embed(self, caption: str | None) -> torch.Tensor:
        """One caption's embedding (1, E) by the run's own encoder (`check_caption` first)."""
        self.check_caption(caption)
        with self.lock:  # no cache file per caption a page passes
            return api.caption_embeddings(self.gen, [caption], cache=False)

    def check_caption(self, caption: str | None, where: str = "caption") -> None:
        """A GanforgeError for a run that takes no caption, or a caption missing, empty or longer than MAX_CAPTION
        characters (before any work)."""
        if not self.text:
            raise GanforgeError(f"run {self.name} ({self.gen.cfg.family}) is not text-to-image: it takes no caption")
        if caption is None or not caption.strip():
            raise GanforgeError(f"{where} is {'missing' if caption is None else 'empty'}: run {self.name} draws "
                                "images of a caption; give some text "
                                f"such as {self.start_caption!r}")
        if len(caption) > MAX_CAPTION:
            raise GanforgeError(f"{where}: {len(caption)} characters; at most {MAX_CAPTION}")

    def _generate(self, z: torch.Tensor, label: int | None, caption: str | None = None) -> torch.Tensor:
        labels = self.gen.labels(len(z), label) if self.gen.num_classes else None
        if label is not None and not self.gen.num_classes:
            raise GanforgeError(f"run {self.name} ({self.gen.cfg.family}) is not class-conditional: it takes no class")
        held = self.embed(caption).expand(len(z), -1) if self.text or caption is not None else None
        with self.lock:
            return self.gen.generate(z, labels, condition=held)

    def picture(self, x: torch.Tensor, cols: int) -> tuple[np.ndarray, int]:
        """Samples as one picture: a grid of images, or a scatter of points over the run's data; and its scale."""
        if self.gen.kind != "image":  # points over the training data's (grey)
            return scatter(x.numpy(), self._training_pool().numpy()), 1
        tiles = grid(to_uint8(x), cols=cols)
        return tiles, max(1, min(96 // self.gen.shape[-1], MAX_SIDE // max(tiles.shape[:2])))

    def samples(self, n: int, seed: int, coords: list[float], label: int | None,
                caption: str | None = None) -> torch.Tensor:
        """G of `latents(n, seed, coords)` (class `label`, or every class in turn when None; of `caption` for a
        text-to-image run)."""
        self._check_generates()
        return self._generate(self.latents(n, seed, coords), label, caption)

    def interpolation(self, seed_a: int, seed_b: int, steps: int, label: int | None,
                      caption: str | None = None) -> torch.Tensor:
        """G along the straight line from the first z of seed_a to that of seed_b, `steps` frames (the class or
        caption held fixed)."""
        self._check_generates()
        za, zb = self.gen.latents(1, seed_a), self.gen.latents(1, seed_b)
        t = torch.linspace(0, 1, steps)[:, None]
        return self._generate((1 - t) * za + t * zb, label, caption)

    def caption_walk(self, first: str | None, second: str | None, rows: int, steps: int, seed: int) -> torch.Tensor:
        """A text run's walk from one caption to another: `rows` z (seeded), each over `steps` frames whose
        embedding goes linearly from `first`'s to `second`'s (api.caption_walk, as `interpolate --text`)."""
        self.check_caption(first, "from")
        self.check_caption(second, "to")
        with self.lock:
            return api.caption_walk(self.gen, first, second, rows, steps, seed, cache=False)

    def nearest(self, sample: torch.Tensor, k: int) -> tuple[torch.Tensor, list[float]]:
        """The k training examples nearest to one sample (pixel space: Euclidean distance between images in
        [-1, 1]), searched among the first NEAREST_POOL of the training split; and their distances."""
        pool = self._training_pool()
        index, dist = api.nearest_examples(sample[None], pool, k)
        return pool[index[0]], [round(float(d), 4) for d in dist[0]]

    def _training_pool(self) -> torch.Tensor:
        """The first NEAREST_POOL training examples, read on first use and kept."""
        with self.lock:
            if self._pool is None:
                self._pool = api.training_examples(self.gen, NEAREST_POOL)
        return self._pool

    # -- translation -------------------------------------------------------------------------------------------
    def translation(self, index: int) -> tuple[torch.Tensor, list[str]]:
        """For each direction the run learnt: test image `index` of its input field, its output and (paired data)
        the target; rows of a picture, and their captions."""
        if not self.directions_learnt:
            raise GanforgeError(f"run {self.name} generates from z (family {self.gen.cfg.family}); it translates "
                                "no images")
        rows, captions = [], []
        for direction, gen in self.translators.items():
            given, targets = self._test_inputs(direction, gen)
            if index >= len(given):
                raise GanforgeError(f"index {index}: direction {direction}'s test split has {len(given)} images "
                                    f"(0–{len(given) - 1})")
            with self.lock:
                out = gen.sample(1, condition=given[index:index + 1])
            row = [given[index:index + 1], out] + ([targets[index:index + 1]] if targets is not None else [])
            rows.append(torch.cat([_rgb(r, out.shape[1], out.shape[-1]) for r in row]))
            captions.append(f"{direction}: input | output" + (" | target" if targets is not None else ""))
        width = max(len(r) for r in rows)
        padded = [torch.cat([r, torch.ones(width - len(r), *r.shape[1:])]) if len(r) < width else r for r in rows]
        return torch.cat(padded), captions

    def translate_upload(self, data: bytes) -> tuple[torch.Tensor, list[str]]:
        """An uploaded image through every direction: rows of input (as the run reads it) | output."""
        if not self.directions_learnt:
            raise GanforgeError(f"run {self.name} generates from z (family {self.gen.cfg.family}); it translates "
                                "no images")
        try:
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
        except (OSError, Image.DecompressionBombError):
            raise GanforgeError("the upload is not an image PIL can read (PNG, JPEG, …)") from None
        if width * height > MAX_UPLOAD_PIXELS:
            raise GanforgeError(f"the upload is {width}×{height} pixels; at most {MAX_UPLOAD_PIXELS:,} are read")
        rows, captions = [], []
        with tempfile.TemporaryDirectory() as folder:  # the run's own image reader takes files
            path = Path(folder) / "upload"
            path.write_bytes(data)
            for direction, gen in self.translators.items():
                given = api.translator_inputs(gen, [path])
                with self.lock:
                    out = gen.sample(1, condition=given)
                rows.append(torch.cat([_rgb(given, out.shape[1], out.shape[-1]), out]))
                captions.append(f"{direction}: upload | output")
        return torch.cat(rows), captions

    def _test_inputs(self, direction: str, gen: api.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The first test images of the field `gen` maps, and their targets when the data pairs them. A direction
        that maps x itself (CycleGAN's BtoA) has as targets the inputs of the direction that makes x."""
        if direction not in self._tests:
            field = gen.conditions[0]
            if field == "x":
                other = next((g for g in self.translators.values() if g.conditions[0] != "x"), None)
                given, _, _ = api.test_pairs(gen.cfg.data, ("x",), MAX_TEST_INDEX + 1)
                paired = other is not None and self._test_inputs_of(other)[1] is not None
                self._tests[direction] = (given["x"], self._test_inputs_of(other)[0] if paired else None)
            else:
                self._tests[direction] = self._test_inputs_of(gen)
        return self._tests[direction]

    @staticmethod
    def _test_inputs_of(gen: api.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        given, targets, _ = api.test_pairs(gen.cfg.data, gen.conditions, MAX_TEST_INDEX + 1)
        return given[gen.conditions[0]], targets


def _rgb(x: torch.Tensor, channels: int, side: int) -> torch.Tensor:
    """x with `channels` channels and `side` pixels a side (an input of another size or channel count than the
    output, e.g. a low-resolution or grey input), so the images of one row tile together."""
    if x.shape[1] != channels:
        x = x.expand(-1, channels, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)
    if x.shape[-1] != side:
        x = torch.nn.functional.interpolate(x, size=(side, side), mode="nearest")
    return x


class RunSet:
    """The runs given on the command line, loaded in order; looked up by index or unique folder name only."""

    def __init__(self, paths: list[str | Path]):
        self.runs: list[ExplorerRun] = []
        names: dict[str, int] = {}
        for i, p in enumerate(paths):
            path = Path(p)
            base = path.resolve().name or f"run{i}"
            names[base] = names.get(base, 0) + 1
            name = base if names[base] == 1 else f"{base}-{names[base]}"
            self.runs.append(ExplorerRun(i, path, name))

    def __getitem__(self, key: str) -> ExplorerRun:
        for run in self.runs:
            if key == str(run.index) or key == run.name:
                return run
        known = ", ".join(f"{r.index} ({r.name})" for r in self.runs) or "none"
        raise LookupError(f"no run '{key}' here: this server shows the runs given to it by index or name: {known}")
