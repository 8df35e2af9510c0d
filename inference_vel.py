"""Stage 1: roll M_θ forward from every test start date and write data/GS/MultiConv_data.nc.

    torchrun --nproc_per_node=1 inference_vel.py --config configs/config_vel.yaml [-o inference.lead_days=40]
    python inference_vel.py --config configs/config_vel.yaml      (one process; N processes write the same file)
"""

import sys

from oceane2e.config import ConfigError
from oceane2e.engine.cli import parse_args
from oceane2e.engine.distributed import distributed_context
from oceane2e.stage1 import format_scores, infer, load_stage1_config, score_velocity_forecast


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, "Stage 1: forecast velocities with M_θ", "configs/config_vel.yaml")
    try:
        cfg = load_stage1_config(args.config, args.overrides)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    with distributed_context(args.local_rank) as info:
        out = infer(cfg, dist_info=info)
        if info.is_main:
            print(f"wrote {out}\n{format_scores(score_velocity_forecast(cfg, out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
