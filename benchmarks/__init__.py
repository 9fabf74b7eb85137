"""Benchmarks of mindcv against its peers; see benchmarks/README.md and benchmark.py."""
