"""Load generation: paced, open-model event traffic under Locust.

What, when and how are kept apart: :mod:`loadgen.events` (the events), :mod:`loadgen.schedule` and
:mod:`loadgen.pacer` (when to send), :mod:`loadgen.meter`, :mod:`loadgen.timeline` and :mod:`loadgen.verdict`
(what happened, and whether the asked-for rate was really delivered). Those modules never import Locust or
gevent, so the asyncio probes in ``checks`` can use them. Only :mod:`loadgen.users`, :mod:`loadgen.worker`,
:mod:`loadgen.master` and :mod:`loadgen.locustfile` run under Locust.
"""
