"""The explorer's routes through Flask's test client (and raw HTTP for traversal): what a page asks for is drawn
from the runs given, bounded, and every refusal is a 4xx with a message, never a traceback page."""
import http.client
import io

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import ganforge
from conftest import ROOT, TINY_CONFIGS
from ganforge import api
from ganforge.config import config_from_dict, load_config
from ganforge.serve import make_app
from serving import running, train_tiny

pytest.importorskip("flask")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("explorer")
    return [train_tiny(root / "gan"), train_tiny(root / "cgan", family="cgan")]


@pytest.fixture(scope="module")
def client(runs):
    return make_app(runs).test_client()


def pixels(response) -> np.ndarray:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.data)))


def error_of(response, code: int) -> str:
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    return response.json["error"]


def test_the_listing_describes_each_run(client):
    listing = client.get("/api/runs").json
    gan, cgan = listing["runs"]
    assert (gan["name"], gan["family"], gan["num_classes"], gan["step"]) == ("gan", "gan", 0, 4)
    assert (cgan["family"], cgan["num_classes"]) == ("cgan", 10)
    assert gan["directions"][:4] == ["PC1", "PC2", "PC3", "PC4"] and len(gan["directions"]) == 6
    assert listing["live"] is False


def test_a_slider_moves_the_samples_and_the_same_request_draws_the_same_picture(client):
    still = pixels(client.get("/api/runs/0/samples.png?n=8&seed=5"))
    assert np.array_equal(still, pixels(client.get("/api/runs/0/samples.png?n=8&seed=5&coords=0,0")))
    moved = pixels(client.get("/api/runs/0/samples.png?n=8&seed=5&coords=2.5"))
    assert still.shape == moved.shape and not np.array_equal(still, moved)
    assert not np.array_equal(still, pixels(client.get("/api/runs/0/samples.png?n=8&seed=6")))


def test_the_class_picks_the_samples_of_a_conditional_run(client):
    three = pixels(client.get("/api/runs/cgan/samples.png?n=8&label=3"))
    seven = pixels(client.get("/api/runs/1/samples.png?n=8&label=7"))
    assert not np.array_equal(three, seven)
    assert "out of range" in error_of(client.get("/api/runs/1/samples.png?label=10"), 400)
    assert "not class-conditional" in error_of(client.get("/api/runs/0/samples.png?label=1"), 400)


def test_interpolation_and_nearest_training_images(client, runs):
    line = pixels(client.get("/api/runs/0/interpolate.png?a=1&b=2&steps=5"))
    assert line.shape[1] > 4 * line.shape[0]  # one row of five frames
    near = client.get("/api/runs/0/nearest.png?n=4&seed=3&index=2&k=3")
    pixels(near)
    distances = [float(d) for d in near.headers["X-Distances"].split(",")]
    assert len(distances) == 3 and distances == sorted(distances) and distances[0] > 0


def test_nearest_examples_finds_a_training_image_itself(runs):
    gen = api.load(runs[0])
    pool = api.training_examples(gen, 50)
    index, dist = api.nearest_examples(pool[[7, 30]] + 0.001, pool, k=2)
    assert index[:, 0].tolist() == [7, 30] and torch.all(dist[:, 0] < 0.1) and torch.all(dist[:, 1] > dist[:, 0])


def test_the_principal_directions_change_g_most(runs):
    gen = api.load(runs[0])
    dirs, names = api.latent_directions(gen, principal=3, random=2)
    assert torch.allclose(dirs @ dirs.T, torch.eye(5), atol=1e-4)  # orthonormal

    def change(d):  # how far G's output moves for a small step along d, over a few z
        z = gen.latents(16, 9)
        return (gen.generate(z + 0.05 * d) - gen.generate(z - 0.05 * d)).flatten(1).norm(dim=1).mean()

    assert change(dirs[0]) > max(change(dirs[3]), change(dirs[4]))


@pytest.mark.parametrize("url, code, words", [
    ("/api/runs/0/samples.png?n=65", 400, "n=65: must lie in 1–64"),
    ("/api/runs/0/samples.png?n=many", 400, "an integer expected"),
    ("/api/runs/0/samples.png?coords=1,x", 400, "comma-separated numbers"),
    ("/api/runs/0/samples.png?coords=nan", 400, "must lie in"),
    ("/api/runs/0/samples.png?coords=1,1,1,1,1,1,1", 400, "7 values for 6 directions"),
    ("/api/runs/0/interpolate.png?steps=100", 400, "steps=100"),
    ("/api/runs/0/nearest.png?n=4&index=4", 400, "index=4"),
    ("/api/runs/0/nearest.png?k=50", 400, "k=50"),
    ("/api/runs/0/translate.png", 400, "translates no images"),
    ("/api/runs/2/samples.png", 404, "no run '2' here"),
    ("/api/runs/gan-2/samples.png", 404, "0 (gan), 1 (cgan)"),
    ("/api/live/state", 404, "no live view"),
])
def test_bad_requests_get_a_4xx_that_says_why(client, url, code, words):
    assert words in error_of(client.get(url), code)


TRAVERSALS = ["/runs/../../etc/passwd", "/api/runs/../../etc/passwd", "/api/runs/..%2F..%2Fetc%2Fpasswd/samples.png",
              "/api/runs/%2e%2e/samples.png", "/static/../../../etc/passwd", "/static/..%2F..%2F..%2Fetc%2Fpasswd",
              "/static/%2e%2e/%2e%2e/api.py", "/api/runs//etc/passwd/samples.png", "/static//etc/passwd"]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_traversal_is_refused_by_the_app(client, url):
    response = client.get(url)
    assert 400 <= response.status_code < 500 and b"root:" not in response.data and b"import" not in response.data


def test_traversal_is_refused_over_http_too(runs):
    """Raw requests as a script would send them (a browser folds '..' away before sending)."""
    with running(make_app(runs)) as url:
        host, port = url.removeprefix("http://").split(":")
        for path in TRAVERSALS:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path)
            answer = conn.getresponse()
            body = answer.read()
            assert 400 <= answer.status < 500, (path, answer.status)
            assert b"root:" not in body and b"Traceback" not in body
            conn.close()


def test_a_page_refuses_external_content(client):
    page = client.get("/")
    assert page.status_code == 200 and b"http" not in page.data  # no address elsewhere: static files of its own
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_translation_run_shows_every_direction_of_a_test_image(tmp_path):
    raw = yaml.safe_load((TINY_CONFIGS / "cyclegan.yaml").read_text())
    ganforge.train(config_from_dict(raw), out=tmp_path / "cyc")
    client = make_app([tmp_path / "cyc"]).test_client()
    assert client.get("/api/runs").json["runs"][0]["translation"] == ["AtoB", "BtoA"]
    answer = client.get("/api/runs/0/translate.png?index=3")
    assert answer.headers["X-Captions"] == "AtoB: input | output | target / BtoA: input | output | target"
    picture = pixels(answer)
    scale, side, pad = 6, 16, 2  # 16-px tiles, 2 px apart, drawn 6 times larger

    def tile(row, col):
        top, left = (pad + row * (side + pad)) * scale, (pad + col * (side + pad)) * scale
        return picture[top:top + side * scale, left:left + side * scale]

    # each direction's target is the other's input: A→B's edge map comes back as B→A's target, and the reverse
    assert np.array_equal(tile(0, 0), tile(1, 2)) and np.array_equal(tile(1, 0), tile(0, 2))
    assert not np.array_equal(tile(0, 0), tile(1, 0))
    assert not np.array_equal(pixels(client.get("/api/runs/0/translate.png?index=4")), picture)
    assert "0–" in error_of(client.get("/api/runs/0/translate.png?index=1000"), 400)
    assert "translates images" in error_of(client.get("/api/runs/0/samples.png"), 400)

    def upload(image: Image.Image | bytes):
        data = image if isinstance(image, bytes) else _png_bytes(image)
        return client.post("/api/runs/0/translate.png", data={"image": (io.BytesIO(data), "mine.png")},
                           content_type="multipart/form-data")

    own = upload(Image.new("RGB", (40, 30), (200, 30, 30)))  # any size and colour: read as the run reads files
    assert own.headers["X-Captions"] == "AtoB: upload | output / BtoA: upload | output"
    assert pixels(own).shape[1] < picture.shape[1]  # two tiles a row, no target
    assert "not an image" in error_of(upload(b"not a picture"), 400)
    assert "at most 16,777,216" in error_of(upload(Image.new("L", (5000, 4000))), 400)
    assert "form field 'image'" in error_of(client.post("/api/runs/0/translate.png"), 400)


def _png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_2d_run_shows_its_points_over_the_data(tmp_path):
    cfg = load_config("gan-ring8", ["data.num_samples=500", "train.steps=2", "train.batch_size=32",
                                    "checkpoint.every=2", "log.every=2", "log.sample_every=2"])
    ganforge.train(cfg, out=tmp_path / "ring")
    client = make_app([tmp_path / "ring"]).test_client()
    run = client.get("/api/runs").json["runs"][0]
    assert run["kind"] == "vector" and run["directions"] == ["PC1", "PC2"]  # z has two dimensions: no random ones
    plot = pixels(client.get("/api/runs/0/samples.png?n=1000"))
    grey = (plot == 200).all(axis=-1).sum()  # the data's points are light grey, the samples dark blue
    assert grey > 50 and ((plot[..., 2] == 160) & (plot[..., 0] == 20)).sum() > 50
    assert not np.array_equal(plot, pixels(client.get("/api/runs/0/samples.png?n=1000&coords=0,3")))
    assert "4096" in error_of(client.get("/api/runs/0/samples.png?n=5000"), 400)
    assert "compares images" in error_of(client.get("/api/runs/0/nearest.png"), 400)


def test_the_pages_ship_with_the_package():
    """Every file the pages load is package data of the wheel (pyproject's package-data globs)."""
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ganforge"]
    static = sorted((ROOT / "ganforge" / "serve" / "static").iterdir())
    assert static and all(any(fnmatch.fnmatch(str(p.relative_to(ROOT / "ganforge")), g) for g in globs)
                          for p in static)
