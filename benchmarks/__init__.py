"""Benchmarks: one runner (`make bench`) comparing geolm against peers measured in the same process."""
