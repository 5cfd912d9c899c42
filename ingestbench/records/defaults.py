"""Every default of a setting that more than one record or command uses, in one place (durations at time
scale 1; a run scales them once, when it resolves its plan). The ``[load]`` table's defaults are the fields of
:class:`~ingestbench.records.load.LoadConfig` and the SLO file's are in :mod:`ingestbench.records.slo_file`.

>>> FLUSH_ROWS / FLUSH_MAX_WAIT_S  # the embedded pipeline's knee, in events/s
100.0
"""

from __future__ import annotations

SCENARIO = "quick"
RESULTS_ROOT = "results"
TIME_SCALE = 1.0
PROCESSES = 1
MASTER_BIND = "0.0.0.0:5557"  # where a run with --workers listens for its generator workers
WORKERS_TIMEOUT_S = 120.0  # how long such a run waits for them

# the embedded reference pipeline
FLUSH_ROWS = 3000
FLUSH_MAX_WAIT_S = 30.0
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH_EVENTS = 1000
PIPELINE_HOST = "127.0.0.1"
PIPELINE_PORT = 8080

# the probe
CANARY_INTERVAL_S = 1.0
POLL_INTERVAL_S = 0.25
REQUEST_TIMEOUT_S = 5.0
CANARY_BATCH_SIZE = 1
METRICS_HOST = "127.0.0.1"
