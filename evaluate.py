"""Score every model in results/ beside persistence, damped persistence and climatology.

    python evaluate.py --config configs/config.yaml [--results results] [--data data/GS]

Writes results/skill.csv (model, lead, metric, value), results/report.md and PNG figures in
results/figures/, and prints the RMSE table. Same as ``oceane2e evaluate``.
"""

import sys

from oceane2e.evaluation.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
