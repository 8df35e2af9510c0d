"""Stage 1: train the velocity model M_θ (MultiConv) on geo_YYYY.nc.

    torchrun --nproc_per_node=4 train_vel.py --config configs/config_vel.yaml [--resume] [-o train.epochs=2]
    python train_vel.py --config configs/config_vel.yaml          (one process)
"""

import sys

from oceane2e.config import ConfigError
from oceane2e.engine.cli import parse_args
from oceane2e.engine.distributed import distributed_context
from oceane2e.stage1 import load_stage1_config, train


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, "Stage 1: train the velocity model M_θ (MultiConv)", "configs/config_vel.yaml")
    try:
        cfg = load_stage1_config(args.config, args.overrides)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    with distributed_context(args.local_rank) as info:
        train(cfg, resume=args.resume, dist_info=info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
