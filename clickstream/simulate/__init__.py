"""The traffic simulator: realistic, reproducible raw clickstream events.

`generator.generate(SimConfig(...))` is pure (the seed and the start time are inputs);
`run.run_simulation(config, sink, ...)` sends them through a sink from `sinks`.
"""

from clickstream.simulate.generator import EventStream, SimConfig, SimStats, generate

__all__ = ["EventStream", "SimConfig", "SimStats", "generate"]
