"""Forecast evaluation (DESIGN.md §7).

* :mod:`~oceane2e.evaluation.metrics`: RMSE, bias, ACC and MHW contingency scores per lead day,
  from additive weighted sums so they stream over start dates.
* :mod:`~oceane2e.evaluation.references`: persistence, damped persistence (e-folding time fitted
  on the training years) and climatology forecasts.
* :mod:`~oceane2e.evaluation.evaluate`: the ``oceane2e evaluate`` command (``evaluate.py``):
  every model in ``results/`` plus the references -> ``skill.csv``, ``report.md``, figures.
* :mod:`~oceane2e.evaluation.report`, :mod:`~oceane2e.evaluation.figures`: the Markdown report
  and the PNG figures.

Nothing is imported here, so ``import oceane2e.evaluation`` stays cheap.
"""
