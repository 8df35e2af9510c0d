"""Stage 1: train the velocity model M_θ (MultiConv) on geo_YYYY.nc.

    torchrun --nproc_per_node=4 train_vel.py --config configs/config_vel.yaml [--resume] [-o train.epochs=2]
    python train_vel.py --config configs/config_vel.yaml          (one process)
"""

import sys

from oceane2e.entry import run_entry
from oceane2e.stage1 import load_stage1_config, train


def main(argv: list[str] | None = None) -> int:
    return run_entry(argv, "Stage 1: train the velocity model M_θ (MultiConv)", "configs/config_vel.yaml",
                     load_stage1_config, lambda cfg, args, info: train(cfg, resume=args.resume, dist_info=info))


if __name__ == "__main__":
    sys.exit(main())
