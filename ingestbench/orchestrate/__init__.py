"""Running things: a whole run (pipeline, load, probe as children), the probe on its own, live progress."""
