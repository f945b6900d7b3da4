"""The explorer on a text-to-image run (Flask's test client): samples are of the caption a request gives, embedded by
the run's own encoder through ganforge.api; the latent sliders and the seed interpolation hold the caption fixed; a
walk goes from one caption to another; a caption that is missing, empty or too long is a 400 that says so."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import api
from ganforge.errors import GanforgeError
from ganforge.images import grid, to_uint8
from ganforge.serve import make_app
from ganforge.serve.frames import png
from serving import train_tiny, train_tiny_text

pytest.importorskip("flask")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("explorer-text")
    return [train_tiny_text(root / "words"), train_tiny(root / "gan")]


@pytest.fixture(scope="module")
def client(runs):
    return make_app(runs).test_client()


def pixels(response) -> np.ndarray:
    assert response.status_code == 200, response.get_data(as_text=True)
    return np.asarray(Image.open(io.BytesIO(response.data)))


def error_of(response) -> str:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    return response.json["error"]


def as_served(x, cols: int) -> np.ndarray:
    """Images as the server draws them: a grid, enlarged up to 6 times (96 px a tile) within 512 px."""
    tiles = grid(to_uint8(x), cols=cols)
    return np.asarray(Image.open(io.BytesIO(png(tiles, max(1, min(6, 512 // max(tiles.shape[:2])))))))


def test_the_listing_offers_a_caption_box_for_the_text_run_only(client):
    words, gan = client.get("/api/runs").json["runs"]
    assert (words["family"], words["caption"], words["max_caption"]) == ("text2image", "a digit seven", 200)
    assert len(words["directions"]) == 6 and gan["caption"] is None


def test_samples_are_those_of_the_caption_by_the_runs_own_encoder(client, runs):
    three = pixels(client.get("/api/runs/0/samples.png?n=8&seed=5&caption=a+digit+three"))
    assert np.array_equal(three, as_served(api.generate(runs[0], "a digit three", num=8, seed=5), 8))
    assert np.array_equal(three, pixels(client.get("/api/runs/0/samples.png?n=8&seed=5&caption=a+digit+three")))
    assert not np.array_equal(three, pixels(client.get("/api/runs/0/samples.png?n=8&seed=5&caption=a+dark+nine")))


def test_sliders_and_seed_interpolation_hold_the_caption_fixed(client, runs):
    gen = api.load(runs[0])
    embedding = api.caption_embeddings(gen, ["a wide zero"])
    still = pixels(client.get("/api/runs/0/samples.png?n=8&seed=2&caption=a+wide+zero"))
    moved = pixels(client.get("/api/runs/0/samples.png?n=8&seed=2&caption=a+wide+zero&coords=2.5"))
    assert not np.array_equal(still, moved)
    dirs, _ = api.latent_directions(gen, condition=api.caption_embeddings(gen, ["a digit seven"]))
    z = gen.latents(8, 2) + 2.5 * dirs[0]  # the sliders' directions are found at the starting caption
    assert np.array_equal(moved, as_served(gen.generate(z, condition=embedding.expand(8, -1)), 8))

    with pytest.raises(GanforgeError, match="conditioned on embedding"):  # G(z) alone means nothing here
        gen.generate(z)
    with pytest.raises(GanforgeError, match="8 rows"):
        gen.generate(z, condition=embedding)

    line = pixels(client.get("/api/runs/0/interpolate.png?a=1&b=2&steps=5&caption=a+wide+zero"))
    t = torch.linspace(0, 1, 5)[:, None]  # seed 1's z to seed 2's, with that caption
    frames = gen.generate((1 - t) * gen.latents(1, 1) + t * gen.latents(1, 2), condition=embedding.expand(5, -1))
    assert np.array_equal(line, as_served(frames, 5))
    assert not np.array_equal(line, pixels(client.get("/api/runs/0/interpolate.png?a=1&b=2&steps=5&caption=one")))


def test_a_walk_goes_from_one_caption_to_the_other(client, runs):
    walk = pixels(client.get("/api/runs/0/captions.png?from=a+digit+one&to=a+bright+nine&steps=5&rows=2&seed=4"))
    expected = api.interpolate_captions(runs[0], "a digit one", "a bright nine", rows=2, steps=5, seed=4)
    assert np.array_equal(walk, as_served(expected, 5))
    assert "rows=5: must lie in 1–4" in error_of(client.get("/api/runs/0/captions.png?from=a&to=b&rows=5"))
    assert "steps=17" in error_of(client.get("/api/runs/0/captions.png?from=a&to=b&steps=17"))
    assert error_of(client.get("/api/runs/0/captions.png?from=a&to=+")).startswith("to is empty")


@pytest.mark.parametrize("url, words", [
    ("/api/runs/0/samples.png", "caption is missing: run words draws images of a caption"),
    ("/api/runs/0/samples.png?caption=", "caption is empty"),
    ("/api/runs/0/samples.png?caption=%20%20", "caption is empty"),
    ("/api/runs/0/samples.png?caption=" + "a" * 201, "caption: 201 characters; at most 200"),
    ("/api/runs/0/interpolate.png?caption=", "caption is empty"),
    ("/api/runs/0/captions.png?to=a+one", "from is missing"),
    ("/api/runs/1/samples.png?caption=a+one", "not text-to-image: it takes no caption"),
    ("/api/runs/1/captions.png?from=a&to=b", "not text-to-image"),
])
def test_a_bad_caption_is_a_400_that_says_why(client, url, words):
    assert words in error_of(client.get(url))


def test_a_served_caption_leaves_no_cache_file(client, tmp_path, monkeypatch):
    """Every caption a page passes would otherwise add a file to the embeddings cache."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    pixels(client.get("/api/runs/0/samples.png?n=4&caption=a+narrow+four"))
    pixels(client.get("/api/runs/0/captions.png?from=a+narrow+four&to=a+six"))
    assert not list(tmp_path.rglob("*.npy"))
