"""Stage 1: roll M_θ forward from every test start date and write data/GS/MultiConv_data.nc.

    torchrun --nproc_per_node=1 inference_vel.py --config configs/config_vel.yaml [-o inference.lead_days=40]
    python inference_vel.py --config configs/config_vel.yaml      (one process; N processes write the same file)
"""

import sys

from oceane2e.entry import run_entry
from oceane2e.stage1 import format_scores, infer, load_stage1_config, score_velocity_forecast


def _infer_and_score(cfg, args, info) -> None:  # noqa: ANN001 - see run_entry
    out = infer(cfg, dist_info=info)
    if info.is_main:
        print(f"wrote {out}\n{format_scores(score_velocity_forecast(cfg, out))}")


def main(argv: list[str] | None = None) -> int:
    return run_entry(argv, "Stage 1: forecast velocities with M_θ", "configs/config_vel.yaml",
                     load_stage1_config, _infer_and_score)


if __name__ == "__main__":
    sys.exit(main())
