"""Local optimal interpolation with a Gaussian space-time covariance (the numerical core of ``oi``).

The background error covariance between two points at chord distance r (km) and time lag Δt (days) is

    B = σb² exp(-r² / (2 L²) - Δt² / (2 T²))

and the observation errors are independent with variances σo² from the records. The analysis at a
target is the best linear unbiased estimate from the observations near it:

    x_a = x_b + Bᵀ_go (B_oo + R)⁻¹ (y - H x_b),   σa² = σb² - Bᵀ_go (B_oo + R)⁻¹ B_go.

Locality: targets are grouped into blocks (a few grid cells); each block uses the ``max_obs``
observations nearest to its centre in the scaled space (x/L, y/L, z/L, t/T) found with a k-d tree,
so the cost is (#blocks) × O(max_obs³), independent of the grid squared and of the total number of
observations. Blocks are solved in batches (numpy's batched LU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: blocks solved at once (memory ~ batch × max_obs² × 8 bytes)
_BATCH = 64


@dataclass(frozen=True)
class Covariance:
    """Gaussian space-time background covariance: length ``length_km`` (km), time ``time_days``
    (days), standard deviation ``background_std`` (unit of the variable)."""

    length_km: float
    time_days: float
    background_std: float

    def scaled(self, xyz_km: np.ndarray, t_days: np.ndarray) -> np.ndarray:
        """(N, 4) positions in which the covariance is exp(-|Δs|²/2) σb²."""
        return np.concatenate([xyz_km / self.length_km, (np.asarray(t_days, np.float64) / self.time_days)[:, None]],
                              axis=1)


@dataclass(frozen=True)
class Blocks:
    """Targets grouped into blocks: ``index`` (nb, P) int target indices, -1 = padding."""

    index: np.ndarray

    @classmethod
    def from_ids(cls, block_id: np.ndarray) -> Blocks:
        """Group the targets by their integer ``block_id`` (M,)."""
        block_id = np.asarray(block_id)
        if block_id.size == 0:
            return cls(np.zeros((0, 1), dtype=np.int64))
        order = np.argsort(block_id, kind="stable")
        ids, starts, counts = np.unique(block_id[order], return_index=True, return_counts=True)
        p = int(counts.max())
        index = np.full((ids.size, p), -1, dtype=np.int64)
        col = np.arange(order.size) - np.repeat(starts, counts)
        index[np.repeat(np.arange(ids.size), counts), col] = order
        return cls(index)


def local_oi(
    target_xyz: np.ndarray,
    target_t: np.ndarray,
    blocks: Blocks,
    obs_xyz: np.ndarray,
    obs_t: np.ndarray,
    innovation: np.ndarray,
    obs_var: np.ndarray,
    cov: Covariance,
    max_obs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Analysis increment and analysis error variance at the targets.

    Args:
        target_xyz: (M, 3) km (see :func:`oceane2e.assim.grid.xyz_km`); target_t: (M,) days.
        blocks: the targets' blocks (each block shares one set of observations).
        obs_xyz: (N, 3) km; obs_t: (N,) days (same origin as ``target_t``).
        innovation: (N,) y - H x_b; obs_var: (N,) observation error variances (unit²).
        cov: the background covariance; max_obs: observations used per block.

    Returns:
        increment (M,) and error variance (M,) (σb² where no observation is near).
    """
    m = target_xyz.shape[0]
    var_b = cov.background_std**2
    inc = np.zeros(m)
    err = np.full(m, var_b)
    n = obs_xyz.shape[0]
    if n == 0 or m == 0:
        return inc, err
    from scipy.spatial import cKDTree

    s_obs = cov.scaled(obs_xyz, obs_t)
    s_tgt = cov.scaled(target_xyz, target_t)
    tree = cKDTree(s_obs)
    k = int(min(max_obs, n))
    idx = blocks.index
    valid_t = idx >= 0
    centre = np.einsum("bpd,bp->bd", s_tgt[np.where(valid_t, idx, 0)], valid_t) / valid_t.sum(1, keepdims=True)
    _, near = tree.query(centre, k=k)
    near = near.reshape(idx.shape[0], k)
    innovation = np.asarray(innovation, np.float64)
    obs_var = np.asarray(obs_var, np.float64)
    for b0 in range(0, idx.shape[0], _BATCH):
        ti = idx[b0 : b0 + _BATCH]
        tv = valid_t[b0 : b0 + _BATCH]
        oi = near[b0 : b0 + _BATCH]  # (B, K); all valid since k <= n
        so = s_obs[oi]  # (B, K, 4)
        st = s_tgt[np.where(tv, ti, 0)]  # (B, P, 4)
        d2_oo = _sq_dist(so, so)
        a = var_b * np.exp(-0.5 * d2_oo)
        a[:, np.arange(k), np.arange(k)] += obs_var[oi]
        d2_to = _sq_dist(st, so)
        g = var_b * np.exp(-0.5 * d2_to) * tv[:, :, None]  # (B, P, K)
        rhs = np.concatenate([innovation[oi][:, :, None], np.swapaxes(g, 1, 2)], axis=2)
        x = np.linalg.solve(a, rhs)  # (B, K, 1 + P)
        block_inc = (g @ x[:, :, :1])[:, :, 0]
        block_err = var_b - np.sum(g * np.swapaxes(x[:, :, 1:], 1, 2), axis=-1)
        inc[ti[tv]] = block_inc[tv]
        err[ti[tv]] = np.maximum(block_err[tv], 0.0)
    return inc, err


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances (B, P, K) between (B, P, D) and (B, K, D) points (never negative)."""
    d2 = np.sum(a * a, -1)[:, :, None] + np.sum(b * b, -1)[:, None, :] - 2.0 * (a @ np.swapaxes(b, 1, 2))
    return np.maximum(d2, 0.0)


def grid_blocks(mask: np.ndarray, block_cells: int) -> tuple[np.ndarray, Blocks]:
    """The ocean cells of ``mask`` (H, W) as targets: their flat indices (M,) and their blocks of
    ``block_cells`` × ``block_cells`` cells."""
    h, w = mask.shape
    flat = np.flatnonzero(mask.ravel())
    i, j = np.divmod(flat, w)
    nbj = -(-w // block_cells)
    return flat, Blocks.from_ids((i // block_cells) * nbj + j // block_cells)
