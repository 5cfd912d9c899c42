import pytest

from ingestbench.pipeline.flush import FlushPolicy
from ingestbench.pipeline.metrics import WeightedHistogram


def test_size_rule_wins_before_the_wait():
    p = FlushPolicy(flush_rows=200, flush_max_wait_s=2.0)
    assert p.reason(buffered=199, oldest_received_s=0.0, now_s=0.5) is None
    assert p.reason(buffered=200, oldest_received_s=0.0, now_s=0.5) == "size"


def test_time_rule_fires_at_the_deadline():
    p = FlushPolicy(flush_rows=200, flush_max_wait_s=2.0)
    assert p.reason(buffered=1, oldest_received_s=10.0, now_s=11.999) is None
    assert p.reason(buffered=1, oldest_received_s=10.0, now_s=12.0) == "time"
    assert p.deadline_s(10.0) == 12.0
    assert p.deadline_s(None) is None


def test_empty_buffer_never_flushes():
    p = FlushPolicy(flush_rows=1, flush_max_wait_s=1.0)
    assert p.reason(buffered=0, oldest_received_s=None, now_s=1e9) is None


@pytest.mark.parametrize(("rows", "wait"), [(0, 1.0), (10, 0.0), (10, -1.0)])
def test_bad_policy(rows, wait):
    with pytest.raises(ValueError):
        FlushPolicy(flush_rows=rows, flush_max_wait_s=wait)


def test_weighted_histogram_is_cumulative():
    h = WeightedHistogram("x_seconds", "doc", [1.0, 5.0])
    h.observe_many([(0.5, 3), (2.0, 2), (10.0, 1)])
    (family,) = list(h.collect())
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("x_seconds_bucket", "1.0")] == 3
    assert samples[("x_seconds_bucket", "5.0")] == 5
    assert samples[("x_seconds_bucket", "+Inf")] == 6
    assert samples[("x_seconds_count", None)] == 6
    assert samples[("x_seconds_sum", None)] == pytest.approx(0.5 * 3 + 4.0 + 10.0)
