"""Load generation: paced, open-model event traffic under Locust.

What, when and how are kept apart: :mod:`ingestbench.loadgen.events` (the events),
:mod:`ingestbench.loadgen.schedule` and :mod:`ingestbench.loadgen.pacer` (when to send),
:mod:`ingestbench.loadgen.meter`, :mod:`ingestbench.loadgen.merger` and :mod:`ingestbench.loadgen.step_check` (what
happened, and whether the asked-for rate was really delivered). Those modules never import Locust or gevent, so the
asyncio probes in ``checks`` can use them. Only :mod:`ingestbench.loadgen.users`, :mod:`ingestbench.loadgen.worker`,
:mod:`ingestbench.loadgen.master` and :mod:`ingestbench.loadgen.locustfile` run under Locust.
"""

if __name__ != "ingestbench.loadgen":  # the top-level folder loadgen/ is a link for contributors' paths
    raise ImportError(f"import ingestbench.loadgen, not {__name__}: one module, one import path")
