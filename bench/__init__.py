"""Benchmarks of the relay, its latency, its connections, its start-up and its memory.

`python -m bench` (or `make bench`) runs them against real processes on this
machine and writes JSON, a Markdown summary and plots to bench/results/.
bench/README.md says what each one measures and how to read it.
"""
