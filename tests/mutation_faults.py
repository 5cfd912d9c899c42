"""The faults :mod:`mutation_check` applies to the judging code, one at a time: each replaces one exact line
(found without its indentation, which is kept) and names the tests that cover the module it mutates."""

from __future__ import annotations

from dataclasses import dataclass

# fastest first: with -x the first failure ends the run
JUDGE_TESTS = ("tests/checks/test_judge.py", "tests/checks/test_tiering.py", "tests/checks/test_slo.py",
               "tests/checks/test_oracle.py", "tests/checks/test_judge_columnar.py",
               "tests/checks/test_judge_properties.py")
COMPARATOR_TESTS = ("tests/checks/test_comparator.py",)


@dataclass(frozen=True)
class Fault:
    name: str
    path: str  # relative to the repository
    line: str  # one exact line of that file (without its indentation)
    becomes: str
    tests: tuple[str, ...] = JUDGE_TESTS


C = "ingestbench/checks/"
FAULTS = (
    # nearest rank, confidence interval, verdict against the target
    Fault("nearest rank rounds down", C + "quantiles.py",
          "return min(n, max(1, math.ceil(pct / 100.0 * n - 1e-9)))",
          "return min(n, max(1, math.floor(pct / 100.0 * n + 1e-9)))"),
    Fault("CI lower rank one too high", C + "quantiles.py",
          "low = int(lows[-1]) + 1 if lows.size else None", "low = int(lows[-1]) + 2 if lows.size else None"),
    Fault("CI upper rank one too low", C + "quantiles.py",
          "high = int(highs[0]) + 1 if highs.size else None", "high = int(highs[0]) if highs.size else None"),
    Fault("percentile equal to the target fails", C + "tier_verdict.py",
          "within = judged_s <= target", "within = judged_s < target"),
    Fault("unbounded interval is conclusive", C + "tier_verdict.py",
          "return high is not None and high <= target", "return high is None or high <= target"),
    Fault("a fail's conclusiveness ignores the lower bound", C + "tier_verdict.py",
          "return low is not None and low > target", "return low is not None and low >= target"),
    Fault("min_samples off by one", C + "tier_verdict.py",
          "elif n < tier.min_samples:", "elif n <= tier.min_samples:"),
    Fault("unexpected empty tier is insufficient", C + "tier_verdict.py",
          "if n == 0 and not expected:", "if n == 0 and expected:"),
    # what is judged, and the budgets
    Fault("late canaries not counted as lost", C + "tier_verdict.py",
          "lost, late, errored = count[LOST] + count[LATE], count[LATE], count[ERRORED]",
          "lost, late, errored = count[LOST], count[LATE], count[ERRORED]"),
    Fault("lost canaries left out of the percentiles", C + "tier_verdict.py",
          "judged_codes = [OUTCOME_CODE[AVAILABLE], OUTCOME_CODE[LOST], OUTCOME_CODE[LATE]]",
          "judged_codes = [OUTCOME_CODE[AVAILABLE]]"),
    Fault("a lost canary judged as seen at once", C + "tier_verdict.py",
          "values = np.where(outcome[steady] == OUTCOME_CODE[AVAILABLE], judged.tta_s[mine][steady], math.inf)",
          "values = np.where(outcome[steady] == OUTCOME_CODE[AVAILABLE], judged.tta_s[mine][steady], 0.0)"),
    Fault("steady errors counted as excluded", C + "tier_verdict.py",
          "excluded = int((~in_steady).sum())", "excluded = int((~steady).sum())"),
    Fault("every window judged", C + "tier_verdict.py",
          "in_steady = window == WINDOW_CODE[STEADY]", "in_steady = window >= 0"),
    Fault("loss budget allows one more", C + "tier_verdict.py",
          "if lost > allowed_lost:", "if lost > allowed_lost + 1:"),
    Fault("error budget reached fails", C + "tier_verdict.py",
          "if errored > allowed_errored:", "if errored >= allowed_errored:"),
    Fault("share budget rounds up", "ingestbench/records/slo.py",
          "return math.floor(self.share * canaries + 1e-9)", "return math.ceil(self.share * canaries - 1e-9)"),
    # durations and horizons
    Fault("loss horizon not time-scaled", "ingestbench/records/slo.py",
          "return tier.lost_after.unscaled_s(tier.target_s) * self.time_scale",
          "return tier.lost_after.unscaled_s(tier.target_s)"),
    Fault("loss horizon under the target", "ingestbench/records/slo.py",
          "return tier.lost_after.unscaled_s(tier.target_s) * self.time_scale",
          "return min(tier.lost_after.unscaled_s(tier.target_s), tier.target_s / 2) * self.time_scale"),
    Fault("warm-up is the shorter of target and floor", "ingestbench/records/slo.py",
          "return max(tier.target_s, self.warmup_min_unscaled_s) * self.time_scale",
          "return min(tier.target_s, self.warmup_min_unscaled_s) * self.time_scale"),
    Fault("steady canary judged against the path's longest horizon", C + "placement.py",
          "horizon = np.where((p.tier >= 0) & steady, horizon_of_tier[p.tier], horizon_of_path[rows.path])",
          "horizon = horizon_of_path[rows.path]"),
    Fault("seen exactly at the horizon is late", C + "placement.py",
          "outcome[available & (high > horizon)] = OUTCOME_CODE[LATE]  # seen only after its horizon: it was lost",
          "outcome[available & (high >= horizon)] = OUTCOME_CODE[LATE]"),
    Fault("the last record of a canary stands", C + "placement.py",
          "if samples.outcome[r] == late or samples.outcome[best] == undecided:",
          "if samples.outcome[r] != undecided:"),
    Fault("an undecided record does not give way", C + "placement.py",
          "if samples.outcome[r] == late or samples.outcome[best] == undecided:",
          "if samples.outcome[r] == late:"),
    # tier placement and windows
    Fault("band's lower edge excluded", C + "tiering.py",
          "match &= rate >= t.at_least_eps", "match &= rate > t.at_least_eps"),
    Fault("band's upper edge included", C + "tiering.py",
          "match &= rate < t.below_eps", "match &= rate <= t.below_eps"),
    Fault("rate window reaches one span further back", C + "tiering.py",
          'lo = np.searchsorted(self.unix_s, at_s - window_s, side="right")',
          'lo = np.searchsorted(self.unix_s, at_s - window_s - span_s, side="right")'),
    Fault("sends after the load are not outside", C + "tiering.py",
          "outside |= sent_unix_s > end_unix_s", "outside |= sent_unix_s > end_unix_s + 2.0"),
    Fault("a shape's band is not a regime", C + "tiering.py",
          'return ("shape", p.regime, band_of(p.target_eps or 0.0) if band_of is not None else None)',
          'return ("shape", p.regime, None)'),
    Fault("warm-up as long as the target", C + "tiering.py",
          "warm = steady & started & (since < warmup_s)", "warm = steady & started & (since < target_s)"),
    Fault("warm-up edge included", C + "tiering.py",
          "warm = steady & started & (since < warmup_s)", "warm = steady & started & (since <= warmup_s)"),
    Fault("the load's end is not a transition", C + "tiering.py",
          "following = np.minimum(following, end_unix_s)", "following = following"),
    Fault("transition edge included", C + "tiering.py",
          "window[steady & ~warm & (following - sent < target_s)] = WINDOW_CODE[TRANSITION]",
          "window[steady & ~warm & (following - sent <= target_s)] = WINDOW_CODE[TRANSITION]"),
    Fault("a stall does not reach a target before it", C + "tiering.py",
          "hit = ahead & (sent >= starts - target_s) & (window == WINDOW_CODE[STEADY]) & (tier >= 0)",
          "hit = ahead & (sent >= starts) & (window == WINDOW_CODE[STEADY]) & (tier >= 0)"),
    Fault("a stall reaches back by one span less", C + "tiering.py",
          "for start, end in sorted((p.unix_s - span_s - p.behind_s, p.unix_s) for p in ordered if p.behind_s > 0):",
          "for start, end in sorted((p.unix_s - p.behind_s, p.unix_s) for p in ordered if p.behind_s > 0):"),
    Fault("a gap in the timeline starts no regime", C + "tiering.py",
          "if key(cur) != key(prev) or cur.unix_s - prev.unix_s > 2 * span_s:", "if key(cur) != key(prev):"),
    Fault("a tier at any rate gets windows", C + "tiering.py",
          "window[bandless] = WINDOW_CODE[STEADY]  # promised at any rate: rate changes are part of it",
          "window[bandless] = window[bandless]"),
    # exit-code precedence and what voids a run
    Fault("a failed tier wins over an invalid run", C + "judge.py", "if invalid:", "if invalid and not failed:"),
    Fault("an invalid step does not void the run", C + "judge.py", "if not s.valid:", "if s.valid is None:"),
    Fault("one undecided canary does not void the run", C + "judge.py", "if undecided:", "if undecided > 1:"),
    Fault("any errored canary voids the run", C + "judge.py",
          "elif len(judged) and bool((judged.outcome == OUTCOME_CODE[ERRORED]).all()):",
          "elif len(judged) and bool((judged.outcome == OUTCOME_CODE[ERRORED]).any()):"),
    Fault("one unjudged tier voids the run", C + "judge.py",
          "elif all(v.status == UNJUDGED for v in verdicts):", "elif any(v.status == UNJUDGED for v in verdicts):"),
    # the comparator's decisions
    Fault("in-flight ingest declared lost", C + "comparator.py",
          "if item.acked_ns is not None and now_ns - item.sent_ns >= self._lost_after_ns:",
          "if now_ns - item.sent_ns >= self._lost_after_ns:", COMPARATOR_TESTS),
    Fault("a poll started before the send is a miss", C + "comparator.py",
          "if started_ns >= item.sent_ns:", "if started_ns >= 0:", COMPARATOR_TESTS),
    Fault("a failed ingest counts as lost", C + "comparator.py",
          "return self._decide(item, ERRORED, None, 0, error=error)",
          "return self._decide(item, LOST, None, 0, error=error)", COMPARATOR_TESTS),
)
