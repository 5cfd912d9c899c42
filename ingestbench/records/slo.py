"""Traffic tiers and their promises, read from a TOML SLO file.

::

    warmup_min_s = 10            # optional; warm-up after a rate change = max(tier target, this)
    lost_after = "10x"           # optional default for every tier: loss horizon, a multiple of the tier's
                                 # target ("10x") or seconds (300); default "10x"
    max_lost = 0                 # optional default loss budget: a count, or a share of the tier's canaries
                                 # ("0.5%"); default 0
    max_errored = "1%"           # optional default error budget (refused ingests), same forms; default "1%"

    [[tier]]
    name = "high"
    path = "analytical"          # or "transactional"
    at_least_eps = 1000          # rate band: at_least_eps <= achieved rate < below_eps (either optional)
    target_s = 3                 # judged percentile must be <= this
    percentile = 95              # default 95
    min_samples = 20             # default 20; fewer makes the tier "insufficient" (run invalid)
    lost_after = 60              # optional, overrides the default above; so may max_lost and max_errored

    [resources]                  # optional: limits on what the observed target itself uses (never scaled)
    max_cpu_cores = 1.5          # CPU cores on average over the run, per observed target
    max_rss_mib = 200            # the highest resident memory sampled, per observed target (MiB)

    [compare]                    # optional: when `ingestbench compare` calls a change a regression
    confidence = 0.9             # (records.compare_rules has the keys; [compare.p95] etc. per metric)
    min_change = 0.05

A canary not seen within its tier's loss horizon is lost. Lost and errored canaries count against their
tier's budgets wherever they were sent (warm-up and transition windows too); exceeding a budget fails the
tier whatever its percentile says.

Durations scale with the run's ``time_scale`` (``--time-scale 0.1`` runs everything ten times faster);
rates never do. The file stores unscaled values; :class:`Slo` applies the scale in one place.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ingestbench.records.compare_rules import CompareRules
from ingestbench.records.config import ConfigError
from ingestbench.records.fields import known
from ingestbench.records.resources import ResourceLimits

DEFAULT_SLO_PATH = Path(__file__).with_name("slo_default.toml")
RATE_WINDOW_S = 5.0  # unscaled


@dataclass(frozen=True)
class Horizon:
    """How long a canary may stay unseen before it is lost: ``multiple`` x the tier's target, or ``seconds``
    (unscaled, like every duration in the file)."""

    multiple: float | None = 10.0
    seconds: float | None = None

    def unscaled_s(self, target_s: float) -> float:
        return self.seconds if self.seconds is not None else (self.multiple or 10.0) * target_s

    def text(self) -> str:
        return f"{self.seconds:g} s" if self.seconds is not None else f"{self.multiple:g}x the target"


@dataclass(frozen=True)
class Budget:
    """How many lost (or errored) canaries a tier tolerates: a ``count`` or a ``share`` of its canaries.

    >>> Budget(share=0.01).allowed(250), Budget(count=0).allowed(250)
    (2, 0)
    """

    count: int | None = 0
    share: float | None = None

    def allowed(self, canaries: int) -> int:
        if self.share is not None:
            return math.floor(self.share * canaries + 1e-9)
        return self.count or 0

    def text(self) -> str:
        return f"{self.share * 100:g}% of the canaries" if self.share is not None else f"{self.count}"


NO_LOSS = Budget(count=0)
ONE_PERCENT = Budget(count=None, share=0.01)


@dataclass(frozen=True)
class Tier:
    """One traffic band of one path with its promise (durations unscaled, as written in the file)."""

    name: str
    path: str
    target_s: float
    percentile: float = 95.0
    min_samples: int = 20
    at_least_eps: float | None = None
    below_eps: float | None = None
    lost_after: Horizon = field(default_factory=Horizon)
    max_lost: Budget = NO_LOSS
    max_errored: Budget = ONE_PERCENT

    @property
    def banded(self) -> bool:
        """False for a tier promised at any rate (transactional): it has no warm-ups or transitions."""
        return self.at_least_eps is not None or self.below_eps is not None

    def matches(self, path: str, rate_eps: float | None) -> bool:
        """True when an observation of ``path`` sent at ``rate_eps`` belongs here (unknown rate: bandless)."""
        if path != self.path:
            return False
        if self.at_least_eps is None and self.below_eps is None:
            return True
        if rate_eps is None:
            return False
        low_ok = self.at_least_eps is None or rate_eps >= self.at_least_eps
        high_ok = self.below_eps is None or rate_eps < self.below_eps
        return low_ok and high_ok

    def band(self) -> str:
        if self.at_least_eps is None and self.below_eps is None:
            return "any rate"
        if self.at_least_eps is None:
            return f"< {self.below_eps:g}/s"
        if self.below_eps is None:
            return f">= {self.at_least_eps:g}/s"
        return f"{self.at_least_eps:g}-{self.below_eps:g}/s"


@dataclass(frozen=True)
class Slo:
    """All tiers plus the run's time scale; every duration a caller needs comes scaled from here."""

    tiers: tuple[Tier, ...]
    time_scale: float = 1.0
    warmup_min_unscaled_s: float = 10.0
    horizon_override_s: float | None = None  # seconds, already scaled (``probe --lost-after``)
    resources: ResourceLimits = field(default_factory=ResourceLimits)  # the target's own CPU and memory
    compare: CompareRules = field(default_factory=CompareRules)  # what `compare` calls a regression

    def scaled(self, time_scale: float) -> Slo:
        if not time_scale > 0:
            raise ConfigError(f"time-scale: must be > 0, got {time_scale}")
        return replace(self, time_scale=time_scale)

    def with_loss_horizon(self, seconds: float | None) -> Slo:
        """Every tier's loss horizon replaced by ``seconds`` (as given, not scaled again); None keeps the file's."""
        return self if seconds is None else replace(self, horizon_override_s=seconds)

    def tier(self, name: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    def tier_for(self, path: str, rate_eps: float | None) -> Tier | None:
        for tier in self.tiers:
            if tier.matches(path, rate_eps):
                return tier
        return None

    def target_s(self, tier: Tier) -> float:
        return tier.target_s * self.time_scale

    @property
    def rate_window_s(self) -> float:
        """How far back from a send the achieved rate is averaged to tier it (5 s, time-scaled)."""
        return RATE_WINDOW_S * self.time_scale

    def warmup_s(self, tier: Tier) -> float:
        return max(tier.target_s, self.warmup_min_unscaled_s) * self.time_scale

    def loss_horizon_s(self, tier: Tier) -> float:
        """Seconds after its send until an unseen canary of ``tier`` is lost (scaled)."""
        if self.horizon_override_s is not None:
            return self.horizon_override_s
        return tier.lost_after.unscaled_s(tier.target_s) * self.time_scale

    def probe_horizon_s(self, path: str) -> float:
        """How long the probe watches a canary of ``path``: the longest horizon of the tiers it may fall in
        (its tier is only known once the judge places it on the rate timeline)."""
        horizons = [self.loss_horizon_s(t) for t in self.tiers if t.path == path]
        return max(horizons or [self.loss_horizon_s(t) for t in self.tiers])

    def to_dict(self) -> dict[str, Any]:
        """The SLO as a plan carries it: the file's tiers (unscaled) with the scale and any override."""
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Slo:
        """Inverse of :meth:`to_dict`.

        >>> from ingestbench.records.slo_file import load_slo
        >>> slo = load_slo(time_scale=0.1).with_loss_horizon(2.0)
        >>> Slo.from_dict(slo.to_dict()) == slo
        True
        """
        tiers = []
        for raw in doc.get("tiers") or ():
            kw = known(Tier, raw)
            kw["lost_after"] = Horizon(**known(Horizon, kw.get("lost_after") or {}))
            for key in ("max_lost", "max_errored"):
                if isinstance(kw.get(key), dict):
                    kw[key] = Budget(**known(Budget, kw[key]))
            tiers.append(Tier(**kw))
        kw = known(cls, doc)
        kw["tiers"] = tuple(tiers)
        kw["resources"] = ResourceLimits(**known(ResourceLimits, doc.get("resources") or {}))
        kw["compare"] = CompareRules.from_dict(doc.get("compare") or {})
        return cls(**kw)
