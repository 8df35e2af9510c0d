"""Ensemble forecasts (issue 17): perturbed initial states, perturbed currents, a stochastic source.

* :mod:`oceane2e.ensemble.noise` — spatially coherent, AR(1)-in-time random fields whose values
  depend only on (seed, start date, member, purpose), never on the batch or the rank.
* :mod:`oceane2e.ensemble.generate` — the ``ensemble:`` config, the perturbations, the batched
  inference of N members per start date, and the files it writes.
"""
