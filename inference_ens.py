"""Ensemble forecasts of a stage-2 model: N perturbed members per test start date (issue 17).

    torchrun --nproc_per_node=2 inference_ens.py --config configs/config_ens.yaml
    python inference_ens.py --config configs/config_ens.yaml    (N processes write the same files as one)

Writes results/Oceane2e-ens_members.nc (sample, member, lead, lat, lon), results/Oceane2e-ens_control.npy
and the ensemble mean as a model (results/Oceane2e-ens_{forecast.nc,outputs.npy,inputs.npy});
`python evaluate.py` then adds CRPS, spread-skill and MHW Brier scores to results/skill.csv.
"""

import sys

from oceane2e.ensemble.generate import main

if __name__ == "__main__":
    sys.exit(main())
