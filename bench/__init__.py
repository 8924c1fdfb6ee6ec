"""Benchmarks: `make bench` (python -m bench) prints accuracy, latency, throughput and memory."""
