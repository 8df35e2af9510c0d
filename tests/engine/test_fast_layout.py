"""The CPU layout of convolution weights (engine.trainer.fast_layout) changes speed, not results."""

from __future__ import annotations

import torch

from model_baselines.blocks import SimVPCore
from oceane2e.engine.trainer import fast_layout


def test_channels_last_weights_give_the_same_forecast_and_gradients() -> None:
    torch.manual_seed(0)
    net = SimVPCore(3, 2, n_in=1, n_out=1, hid_S=4, hid_T=8, N_S=2, N_T=1, attn_kernel=5, zero_init_readout=False)
    x = torch.randn(2, 1, 3, 12, 20)
    ref = net(x)
    ref.square().sum().backward()
    ref_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()

    assert fast_layout(net, "cpu") is net
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    out = net(x)
    out.square().sum().backward()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    for p, g in zip(net.parameters(), ref_grads, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)
