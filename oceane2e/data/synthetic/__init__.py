"""The embedded synthetic ocean (DESIGN.md §4): an honest, labelled stand-in that writes the data contract.

Modules: :mod:`.ocean` (config, driver, ``oceane2e synth`` CLI), :mod:`.physics` (the model's
equations), :mod:`.stats` (the statistics the tests check), :mod:`.figures` (the figure of one day).
The public names are re-exported here.
"""

from oceane2e.data.synthetic.ocean import SyntheticConfig, SyntheticRun, generate, main, simulate

__all__ = ["SyntheticConfig", "SyntheticRun", "generate", "main", "simulate"]
