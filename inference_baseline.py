"""40-day forecasts of a baseline from the same test start dates as the hybrid.

    torchrun --nproc_per_node=1 inference_baseline.py --config configs/config_baseline.yaml
    python inference_baseline.py --config configs/config_baseline_simvp.yaml

Writes results/<Model>_inputs.npy, results/<Model>_outputs.npy and results/<Model>_forecast.nc.
"""

import sys

from oceane2e.entry import run_entry
from oceane2e.stage2 import infer, load_stage2_config


def main(argv: list[str] | None = None) -> int:
    return run_entry(argv, "Forecast SSTA with a baseline", "configs/config_baseline.yaml", load_stage2_config,
                     lambda cfg, args, info: infer(cfg, dist_info=info))


if __name__ == "__main__":
    sys.exit(main())
