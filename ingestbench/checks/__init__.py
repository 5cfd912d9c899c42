

if __name__ != "ingestbench.checks":  # the top-level folder checks/ is a link for contributors' paths
    raise ImportError(f"import ingestbench.checks, not {__name__}: one module, one import path")
