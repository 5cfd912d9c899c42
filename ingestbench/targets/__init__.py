"""How to talk to each system under test.

Every module here is sans-IO: it builds :class:`~ingestbench.targets.base.HttpRequest` values and parses
``(status, headers, body)`` triples into plain results. Locust's FastHttp client (in ``loadgen``) and
aiohttp (in ``checks``) execute the same builders, so adding a target never touches either side.
"""

if __name__ != "ingestbench.targets":  # the top-level folder targets/ is a link for contributors' paths
    raise ImportError(f"import ingestbench.targets, not {__name__}: one module, one import path")

from ingestbench.targets.base import (
    CanaryRow,
    HttpRequest,
    IngestResult,
    ProfileResult,
    TargetError,
)

__all__ = ["CanaryRow", "HttpRequest", "IngestResult", "ProfileResult", "TargetError"]
