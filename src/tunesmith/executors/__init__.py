"""Executors: where objectives run (this process, or a pool of local worker processes)."""
