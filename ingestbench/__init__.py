"""ingestbench: load-test and time-to-availability benchmark harness for event-analytics systems."""

import os

__version__ = "0.1.0"

# Judging reads a run's samples with polars, whose allocator (jemalloc) keeps freed pages for reuse by
# default; numpy's arrays come from the C allocator, so the two high-water marks would add up. Handing freed
# pages back at once keeps a million-canary judgement under 300 MB (it costs a few per cent of its time).
# Set before polars is first imported; an explicit setting in the environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
