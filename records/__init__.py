"""Data that crosses process and file boundaries: exit codes and the records every layer reads and writes.

The bottom layer: it imports nothing from the rest of the project, so the pipeline, the load generator,
the probe and the command line can all speak it.
"""
