"""add_noise: a noisy copy of any model, and sample_representations on it (call order)."""

import math

import pytest
import torch
from torch import nn

from infoflow_core.noise import GaussianNoise, add_noise, sample_representations

F64 = torch.float64


def noise_modules(model):
    return [m for m in model.modules() if isinstance(m, GaussianNoise)]


def nested_net():
    torch.manual_seed(0)  # nn.Linear's default init only
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(),
                         nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 3), nn.Sigmoid())),
                         nn.Linear(3, 2)).double()


class CallOrderDiffers(nn.Module):
    """Custom forward whose activations are registered in the reverse of their call order."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.act_late = nn.Tanh()  # registered first, called last
        self.lin1 = nn.Linear(3, 4, dtype=F64)
        self.act_early = nn.ReLU()
        self.lin2 = nn.Linear(4, 2, dtype=F64)

    def forward(self, x):
        return self.act_late(self.lin2(self.act_early(self.lin1(x))))


def test_nested_sequential():
    net = nested_net()
    noisy = add_noise(net, 0.1)
    assert [m.beta for m in noise_modules(noisy)] == [0.1, 0.1, 0.1]
    x = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    samples = sample_representations(noisy, x, 4, generator=torch.Generator().manual_seed(1))
    assert [tuple(s.shape) for s in samples] == [(7, 4, 5), (7, 4, 4), (7, 4, 3)]
    assert torch.equal(samples[0], torch.tanh(net[0](x)).unsqueeze(1).expand(7, 4, 5))  # layer 1 deterministic
    assert samples[2].min() > 0 and samples[2].max() < 1  # after the sigmoid


def test_eval_outputs_equal_the_original_exactly():
    x = torch.randn(9, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    for net in (nested_net(), CallOrderDiffers()):
        net.eval()
        noisy = add_noise(net, 0.5)
        assert not noisy.training
        assert torch.equal(noisy(x), net(x))
        noisy.train()  # noise on in training mode
        assert not torch.equal(noisy(x), net(x))


def test_original_model_is_untouched():
    net = nested_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    text = repr(net)
    noisy = add_noise(net, 0.1)
    assert repr(net) == text and not noise_modules(net)
    assert net.state_dict().keys() == before.keys()
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(net.parameters(), noisy.parameters()))  # a deep copy
    noisy[0].weight.data.add_(1.0)
    assert torch.equal(net[0].weight, before["0.weight"])


def test_custom_forward_samples_in_call_order():
    """Noise inserted in a custom module: samples come in the order the activations
    are called (ReLU layer first) although the Tanh is registered first, and they
    equal those of a hand-written Sequential with the same weights and noise."""
    net = CallOrderDiffers()
    noisy = add_noise(net, 0.2)
    x = torch.randn(6, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    got = sample_representations(noisy, x, 5, generator=torch.Generator().manual_seed(2))
    assert [tuple(s.shape) for s in got] == [(6, 5, 4), (6, 5, 2)]
    manual = nn.Sequential(net.lin1, nn.ReLU(), GaussianNoise(0.2), net.lin2, nn.Tanh(), GaussianNoise(0.2))
    want = sample_representations(manual, x, 5, generator=torch.Generator().manual_seed(2))
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_shared_activation_instance():
    # One ReLU registered in two slots: each slot gets its own noise module.
    act = nn.ReLU()
    net = nn.Sequential(nn.Linear(2, 3), act, nn.Linear(3, 2), act).double()
    noisy = add_noise(net, 0.1)
    assert len(noise_modules(noisy)) == 2 and noisy[1][1] is not noisy[3][1]
    assert len(sample_representations(noisy, torch.zeros(4, 2, dtype=F64), 2)) == 2

    # One ReLU registered once but called twice: one noise module called twice is refused.
    class Reused(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin1, self.lin2, self.act = nn.Linear(2, 3), nn.Linear(3, 2), nn.ReLU()

        def forward(self, x):
            return self.act(self.lin2(self.act(self.lin1(x))))

    with pytest.raises(ValueError, match="more than once"):
        sample_representations(add_noise(Reused(), 0.1), torch.zeros(4, 2), 2)


def test_after_and_root():
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    noisy = add_noise(net, 0.3, after=nn.Linear)
    assert isinstance(noisy[0], nn.Sequential) and isinstance(noisy[2][1], GaussianNoise)
    assert len(noise_modules(add_noise(net, 0.3, after=(nn.Linear, nn.Tanh)))) == 3
    root = add_noise(nn.Tanh(), 0.3)  # the model itself matches
    assert isinstance(root, nn.Sequential) and isinstance(root[1], GaussianNoise)
    g = torch.Generator().manual_seed(0)
    assert all(m.generator is g for m in noise_modules(add_noise(net, 0.3, generator=g)))


def test_functional_activations_cannot_be_found():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            return torch.tanh(self.lin(x))

    with pytest.raises(ValueError, match="as functions"):
        add_noise(Functional(), 0.1)


@pytest.mark.parametrize("beta", [-0.1, math.nan, math.inf, "0.1x", None])
def test_bad_beta(beta):
    with pytest.raises(ValueError, match="beta"):
        add_noise(nested_net(), beta)


@pytest.mark.parametrize("after", [(), 3, "Tanh", (nn.Tanh, int), GaussianNoise, nn.Tanh()])
def test_bad_after(after):
    with pytest.raises(ValueError, match="after"):
        add_noise(nested_net(), 0.1, after=after)


def test_bad_model_and_generator():
    with pytest.raises(ValueError, match="model"):
        add_noise(lambda x: x, 0.1)
    with pytest.raises(ValueError, match="generator"):
        add_noise(nested_net(), 0.1, generator=0)
