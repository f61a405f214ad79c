"""`omnisync bench`: performance and scale benchmarks, each against a baseline measured in the same run.

One module per benchmark (`delta`, `economy`, `latency`, `initial_sync`, `throughput`, `scaling`),
each exposing `run(quick: bool, pos: str) -> list[BenchResult]`; `runner.py` finds and runs them against
one registered POS. What a rig needs from that POS beyond its contracts: `pos_hooks.py`.
"""
