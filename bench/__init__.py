"""Benchmarks run by hand against real databases: start-up, lateness and registration."""
