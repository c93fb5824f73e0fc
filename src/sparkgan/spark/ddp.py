"""Data-parallel training pieces: process group, synchronised BatchNorm, DDP wrapper.

Nothing here imports pyspark: a rank process runs this code inside a Spark
barrier task, and tests run it in plain processes.

BatchNorm: every BatchNorm layer of G and D becomes a synchronised one, so
its batch statistics are those of the global batch, as in one process at
the same global batch size. That keeps the discriminator's separate real
and fake passes (each normalised over its own global batch), and it also
covers the generator, whose BatchNorm (``model.g_norm=batch``, the default)
one concatenated discriminator pass would not fix. Because the statistics
are global, every rank has the same running statistics, so DDP need not
broadcast buffers before each forward pass. That broadcast is what fails
with an in-place modification error when D runs twice before a backward.
"""

from __future__ import annotations

import datetime
import inspect
import ipaddress
import logging
import os
import socket

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

log = logging.getLogger(__name__)


def init_process_group(backend: str, timeout_s: float) -> None:
    """Join the process group that the launcher describes in the environment.

    ``timeout_s`` bounds every collective: a rank that waits longer for a
    peer (one that hangs instead of dying) raises instead of blocking the
    job forever.
    """
    if backend == "gloo":
        _keep_gloo_on_loopback()
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))


def _keep_gloo_on_loopback() -> None:
    # Gloo binds the interface that the host name resolves to unless
    # GLOO_SOCKET_IFNAME names another. When the rendezvous address is loopback (local masters and
    # tests), bind loopback too rather than another interface of the machine.
    master = os.environ.get("MASTER_ADDR", "")
    if "GLOO_SOCKET_IFNAME" in os.environ or not master:
        return
    try:
        loopback = ipaddress.ip_address(socket.gethostbyname(master)).is_loopback
    except (OSError, ValueError):
        return
    names = [name for _, name in socket.if_nameindex() if name.startswith("lo")]
    if loopback and names:
        os.environ["GLOO_SOCKET_IFNAME"] = names[0]


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over ranks: the gradient of a sum is the sum of the gradients.

    torch.distributed.nn.functional.all_reduce does the same but is
    deprecated in torch 2.13 in favour of a private module, so this
    five-line Function replaces it.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, group=group)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        total = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, group=ctx.group)
        return total, None


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the global batch of all ranks, for CPU training with gloo.

    torch 2.13's SyncBatchNorm does this on GPUs only: it rejects CPU tensors,
    its kernels (``batch_norm_stats`` and friends) have no CPU version, and
    DistributedDataParallel refuses SyncBatchNorm layers in CPU modules. Here
    one differentiable all-reduce per forward pass (and one per backward pass)
    sums the per-channel count, sum and sum of squares over ranks. They are
    summed in float64, so the variance E[x^2] - E[x]^2 keeps about ten
    significant digits where float32 would cancel most of them; one
    collective instead of two halves the points where ranks wait for each
    other. Outside training, or in a process group of one, it is plain
    BatchNorm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N x C x ...), got {input.dim()}-D input")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        syncing = self.training and dist.is_available() and dist.is_initialized()
        if not syncing or dist.get_world_size() == 1:
            return super().forward(input)
        return self._forward_global(input, dist.group.WORLD)

    def _forward_global(self, input: torch.Tensor, group) -> torch.Tensor:
        reduce_dims = [0] + list(range(2, input.dim()))
        shape = [1, -1] + [1] * (input.dim() - 2)
        wide = input.double()
        local_count = wide.new_tensor([float(input.numel() // input.shape[1])])
        sums = torch.cat([wide.sum(reduce_dims), wide.pow(2).sum(reduce_dims), local_count])
        sums = _AllReduceSum.apply(sums, group)
        channels = input.shape[1]
        count = sums[-1]
        mean = sums[:channels] / count
        variance = (sums[channels:2 * channels] / count - mean.pow(2)).clamp_min(0.0)
        scale = torch.rsqrt(variance + self.eps).to(input.dtype)
        output = (input - mean.to(input.dtype).view(shape)) * scale.view(shape)
        if self.affine:
            output = output * self.weight.view(shape) + self.bias.view(shape)

        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                total = count.item()
                unbiased = variance * (total / max(total - 1.0, 1.0))
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), momentum)
                self.running_var.lerp_(unbiased.detach().to(self.running_var.dtype), momentum)
        return output


def convert_batchnorm(module: nn.Module, device: torch.device = torch.device("cpu")) -> nn.Module:
    """Replace every BatchNorm layer under ``module`` by a synchronised one, in place.

    On GPUs the layers become torch's SyncBatchNorm, on CPUs GlobalBatchNorm.
    The new layers take over the old parameters and buffers, so state dict
    keys stay the same and checkpoints load into the plain networks.
    Returns ``module`` (or the new layer, when ``module`` itself is BatchNorm).
    """
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        converted = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        if module.affine:
            converted.weight = module.weight
            converted.bias = module.bias
        converted.running_mean = module.running_mean
        converted.running_var = module.running_var
        converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, convert_batchnorm(child, device))
    return module


class GANDataParallel(DistributedDataParallel):
    """DistributedDataParallel for the phases of GAN training.

    Two kinds of forward pass bypass DDP's reducer and call the network
    directly:

    - while the network is frozen (the generator phase runs D with
      ``requires_grad`` off): plain DDP would wait for D gradients that
      never come and fail at the next forward pass ("Expected to have
      finished reduction");
    - on inputs that require gradients, the forward pass of a gradient
      penalty. A lazy R1 step backpropagates through input gradients only,
      which never reach D's last bias, so DDP would wait for that bias. When
      no regular DDP forward pass precedes such a backward pass, each
      gradient is averaged over ranks as it is accumulated. A parameter
      that gets no gradient keeps none on every rank, as in one process.
      A penalty that joins a regular loss (WGAN-GP) is averaged by DDP.
    """

    def __init__(self, module: nn.Module, **kwargs):
        super().__init__(module, **kwargs)
        self._reducer_armed = False
        self._average_by_hooks = False
        self._reset_queued = False
        for parameter in module.parameters():
            if parameter.requires_grad:
                parameter.register_post_accumulate_grad_hook(self._average_gradient)

    def forward(self, *inputs, **kwargs):
        if not any(parameter.requires_grad for parameter in self.module.parameters()):
            return self.module(*inputs, **kwargs)
        if torch.is_grad_enabled() and any(isinstance(x, torch.Tensor) and x.requires_grad for x in inputs):
            self._average_by_hooks = not self._reducer_armed
            return self.module(*inputs, **kwargs)
        if torch.is_grad_enabled():
            self._reducer_armed = True
        return super().forward(*inputs, **kwargs)

    def _average_gradient(self, parameter: torch.Tensor) -> None:
        if not self._reset_queued:
            # Flags describe one backward pass; clear them when it ends.
            torch.autograd.Variable._execution_engine.queue_callback(self._reset)
            self._reset_queued = True
        if self._average_by_hooks and parameter.grad is not None:
            dist.all_reduce(parameter.grad, group=self.process_group)
            parameter.grad.div_(dist.get_world_size(self.process_group))

    def _reset(self) -> None:
        self._reducer_armed = False
        self._average_by_hooks = False
        self._reset_queued = False


# torch 2.13 renamed DDP's broadcast_buffers to forward_sync_buffers and warns
# on the old name, which older torch versions accept only.
_NO_BUFFER_BROADCAST = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else {"broadcast_buffers": False}
)


def data_parallel_wrapper(device: torch.device):
    """Return the ``wrap`` function that turns G and D into their data-parallel form."""

    def wrap(module: nn.Module) -> nn.Module:
        convert_batchnorm(module, device)
        device_ids = [device] if device.type == "cuda" else None
        return GANDataParallel(module, device_ids=device_ids, **_NO_BUFFER_BROADCAST)

    return wrap


def is_communication_error(error: BaseException) -> bool:
    """Tell whether an exception comes from a collective or from losing a peer rank.

    Such errors on one rank are usually the consequence of another rank's
    failure, so the driver reports the other rank's error first.
    """
    if isinstance(error, getattr(dist, "DistError", ())):
        return True
    text = str(error)
    markers = ("Connection closed by peer", "Connection reset by peer", "gloo", "NCCL", "Timed out", "timed out",
               "Broken pipe", "ProcessGroup")
    return isinstance(error, RuntimeError) and any(marker in text for marker in markers)


__all__ = [
    "GANDataParallel",
    "GlobalBatchNorm",
    "convert_batchnorm",
    "data_parallel_wrapper",
    "init_process_group",
    "is_communication_error",
]
