"""Every factory event passes the reference pipeline's own validation (pure) and its real ingest API."""

import orjson
import pytest

from ingestbench.loadgen.events import CASINGS, EventFactory
from ingestbench.pipeline.validation import validate_batch, validate_single
from ingestbench.targets.pipeline import PipelineTarget
from tests.http import Client
from tests.servers import start_pipeline


@pytest.mark.parametrize("casing", CASINGS)
@pytest.mark.parametrize("nested", [True, False])
def test_every_event_passes_pipeline_validation(casing, nested):
    f = EventFactory(seed=11, casing=casing, nested=nested, property_count=12, pool_size=512)
    events = f.batch(2048)
    for e in events:
        assert validate_single(orjson.loads(orjson.dumps(e))).n_events == 1  # raises ValidationError otherwise
        assert not any(ch.isspace() for ch in e["name"])
    assert validate_batch({"events": events[:1000]}, max_batch=1000).n_events == 1000


@pytest.mark.server
def test_real_pipeline_accepts_factory_events(tmp_path):
    f = EventFactory(seed=5)
    with start_pipeline(tmp_path, flush_rows=100, flush_max_wait_s=0.2) as p:
        target = PipelineTarget(p.url)
        client = Client(p.url)
        for req in [target.ingest(f.batch(1)), target.ingest(f.batch(100)), target.ingest(f.batch(1000))]:
            status, body = client.request(req.method, req.path, req.body, dict(req.headers))
            assert target.parse_ingest(status, {}, body).ok, (status, body)
