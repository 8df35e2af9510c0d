"""The learned analysis: offline training, then end-to-end training through the forecast (the one engine).

    torchrun --nproc_per_node=2 train_assim.py --config configs/config_da.yaml [--resume] [-o train.epochs=2]
    python train_assim.py --config configs/config_da.yaml          (one process)

Writes checkpoints/NeuralDA_offline_best_model.pth, checkpoints/NeuralDA_best_model.pth and the logs.
"""

import sys

from oceane2e.entry import run_entry
from oceane2e.stage_da import load_assim_config, train


def main(argv: list[str] | None = None) -> int:
    return run_entry(argv, "Train the learned analysis (offline, then end to end)", "configs/config_da.yaml",
                     load_assim_config, lambda cfg, args, info: train(cfg, resume=args.resume, dist_info=info))


if __name__ == "__main__":
    sys.exit(main())
