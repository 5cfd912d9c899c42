"""ingestbench: load-test and time-to-availability benchmark harness for event-analytics systems."""

__version__ = "0.1.0"
