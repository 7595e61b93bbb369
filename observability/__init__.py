"""Operating intent: metrics, traces and log context (see each module)."""
