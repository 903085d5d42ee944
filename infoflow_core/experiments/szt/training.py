"""Training the SZT network: Adam on the 3277 training inputs, optional orthonormality
step, losses of the noiseless network after every epoch.

On the CPU the training steps run on one thread (restored for the measurements in
between): the network is tiny, one thread is as fast, and the trajectory then does not
depend on ``OMP_NUM_THREADS`` or ``torch.set_num_threads`` (it still differs in the
last digits between CPUs with other vector units, and training amplifies them).
"""

from __future__ import annotations


import numpy as np
import torch
from torch.nn import functional as F

from ...data.szt import SZTData
from ...models.szt import SZTNet, orthonormalize_
from .._common import progress_iter, single_thread, to_state
from .config import NetworkConfig

__all__ = ["build_model", "train_network"]


def build_model(network: NetworkConfig, device: torch.device,
                noise_generator: torch.Generator | None = None) -> SZTNet:
    """The untrained :class:`~infoflow_core.models.szt.SZTNet` of ``network``, initial
    weights drawn from a CPU generator seeded ``network.seed + 1``, on ``device``.

    >>> from infoflow_core.experiments.szt import SZTConfig
    >>> net = build_model(SZTConfig.for_scale("quick").network("relu"), torch.device("cpu"))
    >>> net.activation, net.beta
    ('relu', 0.005)
    """
    init_gen = torch.Generator().manual_seed(network.seed + 1)
    model = SZTNet(network.activation, network.beta, generator=noise_generator, init_generator=init_gen)
    return model.to(device)


def train_network(network: NetworkConfig, data: SZTData, *, generator: torch.Generator, callback=None,
                  progress: bool = False, resume: dict | None = None):
    """Train the SZT network of ``network`` and call ``callback(epoch, model, state)``
    after each epoch listed in ``network.epochs``.

    Adam (lr ``network.lr``), mini-batches of ``network.batch_size`` reshuffled every
    epoch, softmax cross-entropy, noise on; after every step, the orthonormality
    update :func:`~infoflow_core.models.szt.orthonormalize_` when ``network.alpha > 0``.
    On the CPU the steps run on one thread (:func:`single_thread`); ``callback`` runs
    with the caller's thread count.

    Parameters
    ----------
    network : NetworkConfig
    data : SZTData
        On the device to train on.
    generator : torch.Generator
        On that device: batch order and all training noise.
    callback : callable, optional
        ``callback(epoch, model, state)``; ``state`` is the training state after that
        epoch (``epoch``, ``model``, ``optimizer``, ``generator``, ``record``: CPU
        tensors and dicts), what ``resume`` takes to continue from there.
    progress : bool
        A progress bar over epochs.
    resume : dict, optional
        A ``state`` passed to ``callback`` earlier: training continues after its
        epoch, exactly as if it had not stopped (weights, Adam's moments, the
        generator and the recorded losses are restored).

    Returns
    -------
    model : SZTNet
    losses : dict of str to ndarray, shape (n_epochs,)
        ``epoch``, ``train_loss``, ``test_loss`` (cross-entropy, nats), ``train_acc``,
        ``test_acc`` of the noiseless network (eval mode) after every epoch.
    """
    device = data.x.device
    model = build_model(network, device, generator)
    opt_kw = {"fused": True} if device.type in ("cpu", "cuda") else {}
    opt = torch.optim.Adam(model.parameters(), lr=network.lr, **opt_kw)
    x_tr, y_tr = data.x[data.train_idx], data.y[data.train_idx]  # (n_tr, 12), (n_tr,)
    x_te, y_te = data.x[data.test_idx], data.y[data.test_idx]  # (n_te, 12), (n_te,)
    n_tr, bs = x_tr.shape[0], network.batch_size
    record = torch.zeros(network.n_epochs, 4, dtype=torch.float64, device=device)  # per epoch: 4 numbers
    first = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])
        record.copy_(resume["record"])
        first = int(resume["epoch"]) + 1
    measure = set(network.epochs)
    for epoch in progress_iter(range(first, network.n_epochs + 1), progress, desc=network.name, leave=False):
        with single_thread(device.type == "cpu"):
            model.train()
            perm = torch.randperm(n_tr, generator=generator, device=device)  # (n_tr,)
            xs, ys = x_tr[perm], y_tr[perm]
            for start in range(0, n_tr, bs):
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xs[start:start + bs]), ys[start:start + bs])
                loss.backward()
                opt.step()
                if network.alpha > 0:
                    orthonormalize_(model, network.alpha)
            model.eval()
            with torch.no_grad():
                out_tr, out_te = model(x_tr), model(x_te)  # (n_tr, 2), (n_te, 2)
                record[epoch - 1, 0] = F.cross_entropy(out_tr, y_tr)
                record[epoch - 1, 1] = F.cross_entropy(out_te, y_te)
                record[epoch - 1, 2] = (out_tr.argmax(1) == y_tr).double().mean()
                record[epoch - 1, 3] = (out_te.argmax(1) == y_te).double().mean()
        if callback is not None and epoch in measure:
            state = {"epoch": epoch, "model": to_state(model.state_dict()), "optimizer": to_state(opt.state_dict()),
                     "generator": generator.get_state(), "record": record.cpu().clone()}
            callback(epoch, model, state)
    rec = record.cpu().numpy()  # (n_epochs, 4)
    losses = {"epoch": np.arange(1, network.n_epochs + 1), "train_loss": rec[:, 0], "test_loss": rec[:, 1],
              "train_acc": rec[:, 2], "test_acc": rec[:, 3]}
    return model, losses

