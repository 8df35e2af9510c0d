"""The one training engine of the project: typed ``train:`` config, torchrun DDP, atomic checkpoints.

Modules: :mod:`~oceane2e.engine.config` (TrainConfig), :mod:`~oceane2e.engine.distributed`
(process group), :mod:`~oceane2e.engine.checkpoint` (self-checking atomic files),
:mod:`~oceane2e.engine.trainer` (Trainer + Stepper protocol), :mod:`~oceane2e.engine.logs`,
:mod:`~oceane2e.engine.cli` (arguments of the entry points). Nothing is imported here, so
``import oceane2e.engine`` stays cheap.
"""
