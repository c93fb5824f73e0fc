"""Exception type of the metrics layer."""


class MetricError(ValueError):
    """Invalid input to a metric: wrong shapes, too few samples or impossible values."""
