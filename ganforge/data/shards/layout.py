"""What a packed shard folder holds: the format the writer and the readers agree on.

Layout (WebDataset's): `DIR/shard-000000.tar`, … hold `<key>.png` (lossless uint8, grey or RGB) and, when
labelled, `<key>.cls` (the class as decimal text), members of one example adjacent; `DIR/manifest.json` holds
everything a reader needs without opening a shard (counts, sizes, sha256s, shape, fields, classes, provenance).
"""
from __future__ import annotations

FORMAT = "ganforge-shards"
VERSION = 1
MANIFEST = "manifest.json"
