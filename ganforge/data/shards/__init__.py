"""Datasets larger than memory: packed into tar shards, streamed back as uint8 batches.

The package's rooms: `layout` (what a shard folder holds), `writing` (`pack`, `pack_folder`, `pack_array`),
`reading` (`read_manifest`, the tar reader, `verify_shards`), `stream` (`ShardStream`: the seeded order of an
epoch, DataLoader workers, exact resume) and `dataset` (`ShardDataset`, the folder as the training loop sees a
dataset). Every public name is importable from `ganforge.data.shards` itself.

Why not the `webdataset` library (1.0.2, read and tried): its tar reading is Python's `tarfile` in stream
mode (measured: 48 µs a header, against 9 µs for `reading`'s own ustar header parser and ~210 µs to decode
a 64×64 RGB PNG), and its pipeline — shard lists split across workers, a shuffle buffer filled as samples
arrive — makes the order depend on the worker count, and resuming means replaying the stream. Its sibling
`wids` gives indexed random access by mmapping whole tars (mapped pages count toward RSS; random access gives up
the sequential reads shards exist for). Plain file reads plus the plan `stream` describes give sequential I/O, an order
independent of workers and O(1) exact resume, with no new dependency; the shards stay readable by
webdataset and by `tar`.

Training: `ShardDataset` is the folder as the training loop sees a dataset (shape, fields, classes and a few
examples from the manifest and the shards that hold them); `ganforge train CONFIG data.name=shards --data DIR`
draws its batches from a `ShardStream` (ganforge.train.sampler.StreamSampler).
"""
from ganforge.data.base import to_unit
from ganforge.data.shards.dataset import ShardDataset
from ganforge.data.shards.layout import FORMAT, MANIFEST, VERSION
from ganforge.data.shards.reading import read_manifest, verify_shards
from ganforge.data.shards.stream import DEFAULT_WINDOW, ShardStream
from ganforge.data.shards.writing import DEFAULT_SHARD_SIZE, pack, pack_array, pack_folder

__all__ = ["DEFAULT_SHARD_SIZE", "DEFAULT_WINDOW", "FORMAT", "MANIFEST", "VERSION", "ShardDataset", "ShardStream",
           "pack", "pack_array", "pack_folder", "read_manifest", "to_unit", "verify_shards"]
