"""ganforge.fileio: the one atomic write, file hash, cache folder and checked download the package uses."""
from __future__ import annotations

import hashlib

import pytest

from ganforge.errors import GanforgeError
from ganforge.fileio import DownloadError, atomic_path, atomic_write, cache_dir, download, file_sha256


def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "c"))
    assert cache_dir("features") == tmp_path / "c" / "features"
    monkeypatch.delenv("GANFORGE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "ganforge"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "run.json"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"


def test_the_temporary_keeps_the_suffix(tmp_path):
    with atomic_path(tmp_path / "grid.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")


def test_download_checks_before_it_moves_into_place(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"weights")
    good = hashlib.sha256(b"weights").hexdigest()
    dest = tmp_path / "cache" / "w.bin"
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download(source.as_uri(), dest, checksum=("sha256", "0" * 64))
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    assert download(source.as_uri(), dest, checksum=("sha256", good)) == dest
    assert file_sha256(dest) == good


def test_a_failed_download_names_the_url(tmp_path):
    with pytest.raises(DownloadError, match="nowhere.bin"):
        download((tmp_path / "nowhere.bin").as_uri(), tmp_path / "w.bin")
    assert not (tmp_path / "w.bin").exists()


def test_an_unwritable_folder_is_one_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GanforgeError, match="cannot write to"):
        download("file:///dev/null", blocker / "w.bin")
