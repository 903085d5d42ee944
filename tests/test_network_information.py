"""network_information: the one call against the separate calls it stands for."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from infoflow_core.binning import binned_entropy
from infoflow_core.mutual_information import sp_label_information, sp_mutual_information
from infoflow_core.network import LayerInformation, NetworkInformation, network_information
from infoflow_core.noise import GaussianNoise, add_noise, sample_representations

F64 = torch.float64
KW = dict(n_x=4, n_mc=300, n_mc_given_x=40, n_mc_given_y=200)


def tiny_model(beta=0.2):
    torch.manual_seed(0)  # nn.Linear's default init only
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).double()
    return add_noise(net, beta)


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(24, 2, dtype=F64, generator=g)
    return x, (x[:, 0] > 0).long()


def separate_calls(model, x, labels, beta, seed, n_bins):
    """What network_information does, by hand, with the same generator."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in sample_representations(model, x, KW["n_x"], generator=g):
        i_xt = sp_mutual_information(s, beta, n_mc=KW["n_mc"], n_mc_given_x=KW["n_mc_given_x"], generator=g)
        i_ty = sp_label_information(s, labels, beta, n_mc=KW["n_mc"], n_mc_given_y=KW["n_mc_given_y"], generator=g)
        t = s[:, 0] + beta * torch.randn(s[:, 0].shape, generator=g, dtype=F64)
        out.append((i_xt, i_ty, binned_entropy(t, n_bins=n_bins)))
    return out


def test_matches_the_separate_calls():
    model, (x, y) = tiny_model(), data()
    res = network_information(model, x, y, n_bins=10, generator=torch.Generator().manual_seed(2), progress=False, **KW)
    assert isinstance(res, NetworkInformation) and len(res) == 2 and res.unit == "nats"
    assert [(r.layer, r.name, r.width, r.beta) for r in res] == [(1, "1.1", 4, 0.2), (2, "3.1", 3, 0.2)]
    for row, (i_xt, i_ty, h_bin) in zip(res, separate_calls(model, x, y, 0.2, 2, 10)):
        assert isinstance(row, LayerInformation)
        assert (row.i_xt, row.i_ty, row.h_bin) == (i_xt, i_ty, h_bin)
    assert "I(T;Y)" in str(res) and "3.1" in str(res)


def test_bits_progress_and_no_labels_or_bins():
    model, (x, y) = tiny_model(), data()
    nats = network_information(model, x, y, bin_size=0.1, generator=torch.Generator().manual_seed(3), progress=False,
                               **KW)
    bits = network_information(model, x, y, bin_size=0.1, generator=torch.Generator().manual_seed(3), unit="bits",
                               progress=True, **KW)
    assert bits == nats.to_bits() and bits.unit == "bits" and bits[0].unit == "bits"
    assert bits[1].i_xt.value == pytest.approx(nats[1].i_xt.value / math.log(2), rel=1e-15)
    assert bits[1].h_bin == pytest.approx(nats[1].h_bin / math.log(2), rel=1e-15)
    bare = network_information(model, x, None, generator=torch.Generator().manual_seed(3), progress=False, **KW)
    assert all(r.i_ty is None and r.h_bin is None for r in bare)


def test_beta_from_the_modules_or_given():
    model, (x, y) = tiny_model(0.2), data()
    model[3][1].beta = 0.3  # layers may differ
    res = network_information(model, x, y, generator=torch.Generator().manual_seed(4), progress=False, **KW)
    assert [r.beta for r in res] == [0.2, 0.3]
    # A given β is used for sampling and estimation, then the modules are restored.
    given = network_information(model, x, y, 0.5, generator=torch.Generator().manual_seed(4), progress=False, **KW)
    assert [m.beta for m in model.modules() if isinstance(m, GaussianNoise)] == [0.2, 0.3]
    ref = network_information(tiny_model(0.5), x, y, generator=torch.Generator().manual_seed(4), progress=False, **KW)
    assert given == ref


def test_information_plane_is_sane_on_a_tiny_model():
    # I(T;Y) ≤ min(I(X;T), H(Y)) within 4 combined stderr on each layer; I(X;T) ≤ ln n.
    model, (x, y) = tiny_model(0.1), data()
    res = network_information(model, x, y, n_x=4, n_mc=2000, n_mc_given_x=100,
                              generator=torch.Generator().manual_seed(5),
                              progress=False)
    p = np.bincount(y.numpy()) / len(y)
    h_y = float(-(p * np.log(p)).sum())
    for r in res:
        se = math.hypot(r.i_xt.stderr, r.i_ty.stderr)
        assert r.i_ty.value <= min(r.i_xt.value + 4 * se, h_y + 4 * r.i_ty.stderr)
        assert r.i_xt.value <= math.log(24) + 4 * r.i_xt.stderr


def test_errors():
    model, (x, y) = tiny_model(), data()
    with pytest.raises(ValueError, match="no GaussianNoise"):
        network_information(nn.Sequential(nn.Linear(2, 2)), x, y, progress=False, **KW)
    zero = add_noise(nn.Sequential(nn.Linear(2, 2), nn.Tanh()).double(), 0.0)
    with pytest.raises(ValueError, match="beta = 0"):
        network_information(zero, x, y, progress=False, **KW)
    assert len(network_information(zero, x, y, 0.1, progress=False, **KW)) == 1  # measured at β = 0.1
    with pytest.raises(ValueError, match="labels"):
        network_information(model, x, y[:5], progress=False, **KW)
    with pytest.raises(ValueError, match="at most one of bin_size and n_bins"):
        network_information(model, x, y, bin_size=0.1, n_bins=3, progress=False, **KW)
    with pytest.raises(ValueError, match="unit"):
        network_information(model, x, y, unit="nat", progress=False, **KW)
    with pytest.raises(ValueError, match="beta"):
        network_information(model, x, y, -1.0, progress=False, **KW)
    with pytest.raises(ValueError, match="x must"):
        network_information(model, x.numpy(), y, progress=False, **KW)
