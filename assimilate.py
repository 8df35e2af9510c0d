"""Cycle the learned analysis over the test years, score it; with --forecasts, forecast from the analyses.

    python assimilate.py --config configs/config_da.yaml                   -> results/NeuralDA_analysis.nc,
                                                                              results/analysis_skill.csv
    python assimilate.py --config configs/config_da.yaml --forecasts       -> also results/Oceane2e+NeuralDA_*,
                                                                              results/Oceane2e+OI_* (then evaluate.py)
    python assimilate.py --config configs/config_da.yaml --forecasts-only  (the analyses exist)
    torchrun --nproc_per_node=2 assimilate.py ...   (cycle.segment_days splits the cycle: N processes write what one writes)
"""

import argparse
import sys

from oceane2e.entry import run_entry
from oceane2e.stage_da import cycle, forecast_from_analyses, load_assim_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--forecasts", action="store_true", help="also forecast from the analyses")
    parser.add_argument("--forecasts-only", action="store_true", help="only forecast from the analyses")
    flags, rest = parser.parse_known_args(argv)

    def action(cfg, args, info) -> None:
        if not flags.forecasts_only:
            cycle(cfg, dist_info=info, overwrite=args.overwrite)
        if flags.forecasts or flags.forecasts_only:
            forecast_from_analyses(cfg, dist_info=info, overwrite=args.overwrite)

    return run_entry(rest, "Cycle the learned analysis (and forecast from the analyses)", "configs/config_da.yaml",
                     load_assim_config, action)


if __name__ == "__main__":
    sys.exit(main())
