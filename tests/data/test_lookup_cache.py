"""The idx datasets' download cache is ganforge's cache, as for the evaluators' files: $GANFORGE_CACHE when set
(it used to be ~/.cache/ganforge whatever the variable said)."""
import hashlib

from ganforge.data import lookup
from ganforge.fileio import cache_dir

from test_data import write_split


def test_downloads_go_to_ganforge_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GANFORGE_DATA", raising=False)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    assert lookup.cache_dir("mnist") == cache_dir("mnist") == tmp_path / "cache" / "mnist"

    server = tmp_path / "server"
    write_split(server, "train", n=3)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in server.iterdir()}
    images, labels = lookup.find_files("mnist", "train", source=lookup.Source(server.as_uri() + "/", md5))
    assert images.parent == labels.parent == tmp_path / "cache" / "mnist"
    assert not (tmp_path / "home").exists()  # nothing written under ~/.cache

    def offline(url, dest):
        raise OSError("offline")

    # and a later lookup finds the cached files there
    assert lookup.find_files("mnist", "train", downloader=offline) == (images, labels)
