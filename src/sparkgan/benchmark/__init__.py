"""Benchmarks built into the sparkgan command."""
