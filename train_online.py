"""Stage 2: train the Ocean-E2E hybrid through the dynamic kernel (rollout training).

    torchrun --nproc_per_node=4 train_online.py --config configs/config.yaml [--resume] [-o train.epochs=2]
    python train_online.py --config configs/config.yaml          (one process)
"""

import sys

from oceane2e.entry import run_entry
from oceane2e.stage2 import load_stage2_config, train


def main(argv: list[str] | None = None) -> int:
    return run_entry(argv, "Stage 2: train the Ocean-E2E hybrid", "configs/config.yaml", load_stage2_config,
                     lambda cfg, args, info: train(cfg, resume=args.resume, dist_info=info))


if __name__ == "__main__":
    sys.exit(main())
