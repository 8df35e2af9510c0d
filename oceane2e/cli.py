"""``oceane2e <command> ...``: one entry point, sub-commands imported lazily.

Each sub-command lives in its own module exposing ``main(argv: list[str] | None) -> int``. A user
error of any sub-command ends as one line and exit status 2; ``--debug`` (anywhere on the command
line) shows the traceback instead.
"""

from __future__ import annotations

import importlib
import sys

from oceane2e.cpu_isa import pin_cpu_vector_paths
from oceane2e.errors import pop_debug_flag, report_user_errors
from oceane2e.memory import keep_freed_memory
from oceane2e.threads import prefer_passive_openmp

COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("oceane2e.data.synthetic.ocean", "generate the embedded synthetic ocean data folder"),
    "check": ("oceane2e.data.check", "validate a data folder against the data contract"),
    "prepare-data": ("oceane2e.data.converters.prepare", "convert CMEMS/OISST/OSTIA/ERA5 files to the data contract"),
    "prepare-obs": ("oceane2e.data.converters.prepare_obs", "convert real observation files to the observation contract"),
    "detect": ("oceane2e.mhw.cli", "detect marine heatwaves in a CSV series or a NetCDF grid"),
    "observe": ("oceane2e.assim.observe", "simulate observations (L3 SST, drifters, Argo, altimetry) of a data folder"),
    "oi": ("oceane2e.assim.oi", "optimal interpolation of the observations: SSTA and currents analyses, scores"),
    "ensemble": ("oceane2e.ensemble.generate", "ensemble forecasts (N perturbed members) of a stage-2 model"),
    "evaluate": ("oceane2e.evaluation.evaluate", "score every model in results/ and write the report"),
    "pipeline": ("oceane2e.pipeline", "run the whole pipeline (data, stage 1, stage 2, baselines, report)"),
}


def _usage() -> str:
    width = max(len(c) for c in COMMANDS)
    lines = ["usage: oceane2e [--debug] <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    # The ``oceane2e`` console script enters here, not through ``python -m oceane2e``: choose the OpenMP wait
    # policy and the vector paths before a sub-command imports torch (oceane2e.threads, oceane2e.cpu_isa).
    prefer_passive_openmp()
    pin_cpu_vector_paths()
    keep_freed_memory()  # freed tensors' memory stays with the process for reuse (oceane2e.memory)
    argv, debug = pop_debug_flag(list(sys.argv[1:] if argv is None else argv))
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"oceane2e: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return report_user_errors(f"oceane2e {name}", lambda: int(module.main(rest) or 0), debug=debug)


if __name__ == "__main__":
    sys.exit(main())
