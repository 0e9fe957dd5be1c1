"""Benchmarks, run on demand (never timed in tests): ``./run bench collect``."""
