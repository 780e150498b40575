"""Numbers: counters, counting, metrics and time series."""
