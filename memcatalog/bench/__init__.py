"""Benchmarks against the peers, in one run: ``memcatalog bench``."""
