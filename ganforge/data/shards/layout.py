"""What a packed shard folder holds: the format the writer and the readers agree on.

Layout (WebDataset's): `DIR/shard-000000.tar`, … hold `<key>.png` (lossless uint8, grey or RGB), when labelled
`<key>.cls` (the class as decimal text) and when captioned `<key>.txt` (the image's captions, UTF-8, one a line),
members of one example adjacent; `DIR/manifest.json` holds everything a reader needs without opening a shard
(counts, sizes, sha256s, shape, fields, classes, captions, provenance).
"""
from __future__ import annotations

FORMAT = "ganforge-shards"
VERSION = 1
MANIFEST = "manifest.json"


def fields(labelled: bool, captioned: bool) -> list[str]:
    """The members each example of a set has, in the order they are written."""
    return ["png", *(["cls"] if labelled else []), *(["txt"] if captioned else [])]
