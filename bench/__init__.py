"""Benchmarks (``make bench``); a package so their module names do not shadow ours."""
