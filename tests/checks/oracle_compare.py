"""The product's verdicts against the oracle's (:mod:`tests.checks.reference_judge`), field by field.

Only structured outcomes are compared: per tier the status, every count, the percentiles, the interval and its
ranks, the budgets, the target and horizon; per run the status, exit code, how many reasons make it invalid,
and where every canary was placed. Wording is the product's alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from ingestbench.checks.judge import RunVerdict
from tests.checks.reference_judge import RunOutcome, TierOutcome


def tier_facts(v: Any) -> dict[str, Any]:
    """A product ``TierVerdict`` in the oracle's terms."""
    return {"tier": v.tier, "status": v.status, "canaries": v.canaries, "n": v.n, "available": v.available,
            "lost": v.lost, "late": v.late, "errored": v.errored, "undecided": v.undecided, "excluded": v.excluded,
            "duplicates": v.duplicates, "allowed_lost": v.allowed_lost, "allowed_errored": v.allowed_errored,
            "windows": v.windows, "percentiles": {50: v.p50_s, 90: v.p90_s, 95: v.p95_s, 99: v.p99_s},
            "max_s": v.max_s, "judged_s": v.judged_s, "ci": (v.ci_low_s, v.ci_high_s),
            "ci_ranks": (v.ci_low_rank, v.ci_high_rank), "conclusive": v.conclusive, "target_s": v.target_s,
            "loss_horizon_s": v.loss_horizon_s}


def oracle_facts(t: TierOutcome) -> dict[str, Any]:
    return dict(t.__dict__)


def assert_agrees(product: RunVerdict, oracle: RunOutcome, *, placements: bool = True) -> None:
    assert [tier_facts(v) for v in product.tiers] == [oracle_facts(t) for t in oracle.tiers]
    assert (product.status, int(product.exit_code), product.untiered, product.undecided) == (
        oracle.status, oracle.exit_code, oracle.untiered, oracle.undecided), product.reason
    assert len(product.invalid_reasons) == len(oracle.causes), (product.invalid_reasons, oracle.causes)
    if placements:
        assert product.judged is not None
        rows = product.judged.rows()
        mine = {(r.path, r.canary_id): (r.tier, r.window, r.outcome) for r in rows}
        assert mine == {k: v[:3] for k, v in oracle.placed.items()}
        for r in rows:  # a mean of the same points, summed another way: equal to the last few bits
            want = oracle.placed[(r.path, r.canary_id)][3]
            assert (r.rate_eps is None) == (want is None)
            if want is not None:
                assert r.rate_eps == pytest.approx(want, rel=1e-9)
