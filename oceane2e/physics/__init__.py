"""The differentiable SST advection kernel on the sphere (DESIGN.md §5).

Public API: :class:`SphericalGrid` (metrics from the data's coordinates and mask),
:class:`KernelOptions`, :func:`advect` (one interval, batched, differentiable) and
:func:`courant_number`. ``scheme="reference"`` selects the reference release's scheme.
"""

from oceane2e.physics.grid import EARTH_RADIUS_M, SphericalGrid
from oceane2e.physics.kernel import CourantError, KernelOptions, advect, courant_number
from oceane2e.physics.reference import reference_advect

__all__ = [
    "EARTH_RADIUS_M",
    "CourantError",
    "KernelOptions",
    "SphericalGrid",
    "advect",
    "courant_number",
    "reference_advect",
]
