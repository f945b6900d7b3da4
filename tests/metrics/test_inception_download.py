"""Cache + download of the FID Inception weights, without network: the cache lives in tmp_path
(GANFORGE_CACHE), downloads are an injected function or a file:// URL, and the expected sha256 is
patched to that of a small fake file (the real 95 MB weights are not available here)."""
import hashlib
from pathlib import Path
from urllib.error import URLError

import pytest

from ganforge.errors import GanforgeError
from ganforge.metrics import inception_net as fid
from ganforge.metrics.inception_net import (
    FID_WEIGHTS_FILE, FID_WEIGHTS_URL, fetch_fid_inception, inception_cache_dir, resolve_inception_weights,
)

GOOD = b"fake FID inception weights"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache folder (not created yet), with the expected hash set to that of GOOD."""
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    monkeypatch.setattr(fid, "FID_WEIGHTS_SHA256", hashlib.sha256(GOOD).hexdigest())
    return tmp_path / "inception"


class FakeDownloader:
    def __init__(self, data=GOOD, error=None):
        self.data, self.error, self.calls = data, error, []

    def __call__(self, url, dest):
        self.calls.append((url, Path(dest)))
        if self.error is not None:
            raise self.error
        Path(dest).write_bytes(self.data)


def test_published_hash_matches_file_name_prefix():
    # torch.hub convention: the name carries the first 8 hex digits of the file's sha256
    assert len(fid.FID_WEIGHTS_SHA256) == 64
    assert FID_WEIGHTS_FILE == "pt_inception-2015-12-05-6726825d.pth"
    assert fid.FID_WEIGHTS_SHA256.startswith("6726825d")
    assert FID_WEIGHTS_URL.endswith("/" + FID_WEIGHTS_FILE)


def test_cache_dir_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "c"))
    assert inception_cache_dir() == tmp_path / "c" / "inception"
    monkeypatch.delenv("GANFORGE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert inception_cache_dir() == tmp_path / "home" / ".cache" / "ganforge" / "inception"


def test_fresh_fetch_downloads_once_then_uses_cache(cache):
    dl = FakeDownloader()
    path = fetch_fid_inception(downloader=dl)
    assert path == cache / FID_WEIGHTS_FILE
    assert path.read_bytes() == GOOD
    assert len(dl.calls) == 1 and dl.calls[0][0] == FID_WEIGHTS_URL
    assert dl.calls[0][1].parent == cache and dl.calls[0][1] != path  # temp file beside the target
    assert sorted(p.name for p in cache.iterdir()) == [FID_WEIGHTS_FILE]  # temp file gone

    assert fetch_fid_inception(downloader=dl) == path
    assert len(dl.calls) == 1  # second fetch is served from the cache
    assert resolve_inception_weights("auto") == path  # default downloader never reached: cached


def test_corrupt_download_leaves_nothing(cache):
    with pytest.raises(GanforgeError, match="sha256") as err:
        fetch_fid_inception(downloader=FakeDownloader(data=b"truncated"))
    msg = str(err.value)
    assert fid.FID_WEIGHTS_SHA256 in msg and hashlib.sha256(b"truncated").hexdigest() in msg
    assert not (cache / FID_WEIGHTS_FILE).exists()
    assert list(cache.iterdir()) == []  # temp file removed too


def test_offline_download_error_says_where_to_put_the_file(cache):
    dl = FakeDownloader(error=URLError("no route to host"))
    with pytest.raises(GanforgeError) as err:
        fetch_fid_inception(downloader=dl)
    msg = str(err.value)
    for needle in (FID_WEIGHTS_URL, FID_WEIGHTS_FILE, str(cache / FID_WEIGHTS_FILE), "--inception-weights"):
        assert needle in msg
    assert len(dl.calls) == 1
    assert list(cache.iterdir()) == []


def test_download_disabled_gives_the_same_guidance(cache):
    dl = FakeDownloader()
    with pytest.raises(GanforgeError) as err:
        fetch_fid_inception(download=False, downloader=dl)
    msg = str(err.value)
    assert FID_WEIGHTS_URL in msg and str(cache / FID_WEIGHTS_FILE) in msg and "--inception-weights" in msg
    assert dl.calls == []


def test_default_downloader_via_file_url(cache, tmp_path):
    src = tmp_path / "mirror" / FID_WEIGHTS_FILE
    src.parent.mkdir()
    src.write_bytes(GOOD)
    path = fetch_fid_inception(url=src.as_uri())
    assert path.read_bytes() == GOOD and sorted(p.name for p in cache.iterdir()) == [FID_WEIGHTS_FILE]


def test_default_downloader_failure_is_a_clear_error(cache, tmp_path):
    url = (tmp_path / "nowhere" / FID_WEIGHTS_FILE).as_uri()  # urllib raises URLError for it
    with pytest.raises(GanforgeError) as err:
        fetch_fid_inception(url=url)
    assert url in str(err.value) and str(cache / FID_WEIGHTS_FILE) in str(err.value)
    assert list(cache.iterdir()) == []


def test_corrupt_cached_file_is_named_and_kept(cache):
    cache.mkdir()
    bad = cache / FID_WEIGHTS_FILE
    bad.write_bytes(b"not the weights")
    dl = FakeDownloader()
    with pytest.raises(GanforgeError) as err:
        fetch_fid_inception(downloader=dl)
    msg = str(err.value)
    assert str(bad) in msg and "Delete" in msg
    assert fid.FID_WEIGHTS_SHA256 in msg and hashlib.sha256(b"not the weights").hexdigest() in msg
    assert dl.calls == []  # no silent re-download over the user's file
    assert bad.read_bytes() == b"not the weights"


def test_resolve_explicit_path(cache, tmp_path):
    given = tmp_path / "my_weights.pth"
    given.write_bytes(b"anything")
    assert resolve_inception_weights(given) == given
    assert resolve_inception_weights(str(given)) == given

    missing = tmp_path / "typo.pth"
    with pytest.raises(GanforgeError, match="not found") as err:
        resolve_inception_weights(str(missing))
    assert str(missing) in str(err.value)
    assert not cache.exists()  # a named path never falls back to (or fills) the cache
