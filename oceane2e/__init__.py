"""Ocean-E2E: hybrid physics + neural forecasting of SST anomalies and marine heatwaves.

Sub-packages (imports go one way: physics <- models <- engine/training; data knows nothing of models):

* ``oceane2e.data``: the data contract, the synthetic ocean, converters, datasets.
* ``oceane2e.physics``: the differentiable SST advection kernel on the sphere.
* ``oceane2e.mhw``: Hobday marine-heatwave detection.
* ``oceane2e.engine``: the one training engine (config, DDP, checkpoints).
* ``oceane2e.evaluation``: forecast scores, reports, figures.
"""

__version__ = "0.1.0"
