"""Data that crosses process and file boundaries: exit codes and the records every layer reads and writes.

The bottom layer: it imports nothing from the rest of the project, so the pipeline, the load generator,
the probe and the command line can all speak it.
"""

if __name__ != "ingestbench.records":  # the top-level folder records/ is a link for contributors' paths
    raise ImportError(f"import ingestbench.records, not {__name__}: one module, one import path")
