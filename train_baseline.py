"""Train a baseline (ConvLSTM or SimVP, chosen by ``model.name`` in the config) with the shared engine.

    torchrun --nproc_per_node=4 train_baseline.py --config configs/config_baseline.yaml
    python train_baseline.py --config configs/config_baseline_simvp.yaml
"""

import sys

from oceane2e.entry import run_entry
from oceane2e.stage2 import load_stage2_config, train


def main(argv: list[str] | None = None) -> int:
    return run_entry(argv, "Train a baseline SSTA forecaster", "configs/config_baseline.yaml", load_stage2_config,
                     lambda cfg, args, info: train(cfg, resume=args.resume, dist_info=info))


if __name__ == "__main__":
    sys.exit(main())
