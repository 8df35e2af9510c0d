"""Stage 2: 40-day forecasts of the Ocean-E2E hybrid from every test start date.

    torchrun --nproc_per_node=1 inference.py --config configs/config.yaml
    python inference.py --config configs/config.yaml    (N processes write the same files as one)

Writes results/Oceane2e_inputs.npy (truth), results/Oceane2e_outputs.npy (forecast) and
results/Oceane2e_forecast.nc; the currents come from data/GS/MultiConv_data.nc (run stage 1 first).
"""

import sys

from oceane2e.entry import run_entry
from oceane2e.stage2 import infer, load_stage2_config


def main(argv: list[str] | None = None) -> int:
    return run_entry(argv, "Stage 2: forecast SSTA with the Ocean-E2E hybrid", "configs/config.yaml",
                     load_stage2_config, lambda cfg, args, info: infer(cfg, dist_info=info))


if __name__ == "__main__":
    sys.exit(main())
