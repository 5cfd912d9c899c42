"""The reference ingestion pipeline: the embedded default target.

A UserFlux-compatible ingest API that acknowledges events only once they are durably stored, makes them
visible to queries by size-or-time micro-batching (flush when ``flush_rows`` are buffered or the oldest
buffered event has waited ``flush_max_wait_s``), serves profiles immediately, and records for every event
when it was received and when it became visible (the ground truth the probes are checked against).
"""

if __name__ != "ingestbench.pipeline":  # the top-level folder pipeline/ is a link for contributors' paths
    raise ImportError(f"import ingestbench.pipeline, not {__name__}: one module, one import path")
