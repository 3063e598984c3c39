"""dedupe: find duplicate and near-duplicate photos, review them, and clean them up safely."""

__version__ = "0.1.0"
