"""Assimilation: the simulated observing system, optimal interpolation and analysis scores.

* :mod:`oceane2e.assim.grid` - positions on the sphere, sampling a grid at points, geostrophy.
* :mod:`oceane2e.assim.observe` - ``oceane2e observe``: L3 SST with clouds, drifters, Argo and
  along-track altimetry sampled from a data folder into the observation contract.
* :mod:`oceane2e.assim.oi` - ``oceane2e oi``: local optimal interpolation of SSTA and SLA (and the
  geostrophic currents of the SLA analysis), tuned by cross-validation on the training years.
* :mod:`oceane2e.assim.scores` - ``results/analysis_skill.csv``, its figure and report section.

Nothing is imported here: the sub-modules are imported where they are used.
"""
