"""Data-parallel training without Spark: N ranks at batch B/N equal one process at batch B.

Ranks run as plain processes on loopback, with the same rank function that
Spark barrier tasks run.
"""

import multiprocessing
import os
import socket
import traceback

import pytest
import torch
from torch import nn

from sparkgan import api
from sparkgan.spark import runfiles
from sparkgan.spark.ddp import GlobalBatchNorm, convert_batchnorm, init_process_group, is_communication_error
from sparkgan.spark.rank import RankJob, train_rank
from sparkgan.train import checkpoint as ckpt
from sparkgan.train import plan_new_run, prepare_run_dir

TINY = [
    "data.name=digits", "model.width=8", "model.z_dim=8", "train.batch_size=8", "train.steps=3",
    "train.log_every=1", "train.checkpoint_every=3", "train.sample_every=3", "train.threads=1",
    "eval.at_end=false",
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_entry(rank, world_size, port, function, args, results):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        results.put((rank, "ok", function(*args)))
    except BaseException as error:  # reported to the test process
        results.put((rank, "error", (repr(error), is_communication_error(error), traceback.format_exc())))


def run_ranks(function, *args, world_size=2, timeout=120, wait_for=None):
    """Run ``function(*args)`` in ``world_size`` fresh processes; return {rank: (status, value)}.

    With ``wait_for``, return once those ranks have sent results and terminate the others.
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = free_port()
    processes = [context.Process(target=_rank_entry, args=(rank, world_size, port, function, args, results))
                 for rank in range(world_size)]
    for process in processes:
        process.start()
    outcome = {}
    wanted = set(range(world_size) if wait_for is None else wait_for)
    while not wanted <= outcome.keys():
        rank, status, value = results.get(timeout=timeout)
        outcome[rank] = (status, value)
    for process in processes:
        if process.is_alive() and wait_for is not None:
            process.terminate()
        process.join(timeout=30)
    return outcome


def train_world(tmp_path, name, overrides, world_size):
    plan = plan_new_run(None, overrides + ["spark.master=local[2]", f"spark.num_workers={world_size}"],
                        str(tmp_path / name))
    prepare_run_dir(plan)
    runfiles.write_marker(plan.run_dir, "token")
    job = RankJob(plan.config, str(plan.run_dir), token="token", attempt=1)
    outcome = run_ranks(train_rank, job, world_size=world_size)
    assert outcome[0][0] == "ok", outcome
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(plan.run_dir / "checkpoints")), outcome[0][1]


def assert_close_states(single, parallel, atol):
    for part in ("G", "D", "G_ema"):
        assert single[part].keys() == parallel[part].keys()
        for key, expected in single[part].items():
            actual = parallel[part][key]
            if expected.is_floating_point():
                torch.testing.assert_close(actual, expected, atol=atol, rtol=1e-4, msg=f"{part}.{key} differs")
            else:
                assert torch.equal(actual, expected), f"{part}.{key} differs"


def test_two_ranks_match_one_process(tmp_path):
    # Double backward through D: WGAN-GP with two D steps, and lazy R1, whose
    # gradients never reach D's last bias. G keeps its BatchNorm. The
    # spark-submit test covers D BatchNorm through the whole Spark path.
    overrides = TINY + ["loss.objective=wasserstein", "train.d_steps=2", "loss.r1_gamma=1", "loss.r1_interval=2"]
    single = api.train(overrides=overrides, out=str(tmp_path / "single"), progress=False)
    assert single.step == 3
    expected = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "single" / "checkpoints"))

    state, summary = train_world(tmp_path, "parallel", overrides, world_size=2)
    assert summary == {"step": 3, "world_size": 2}
    assert state["step"] == 3
    assert_close_states(expected, state, atol=1e-5)
    # The step really moved the weights, so agreement is not agreement of initial values.
    initial = torch.nn.utils.parameters_to_vector([t for t in expected["G"].values() if t.is_floating_point()])
    assert initial.abs().sum() > 0


def _batchnorm_check(inputs, grad_out):
    init_process_group("gloo", timeout_s=60)
    rank = torch.distributed.get_rank()
    torch.manual_seed(0)
    layer = convert_batchnorm(nn.BatchNorm2d(3))
    assert isinstance(layer, GlobalBatchNorm)
    share = slice(rank * 4, (rank + 1) * 4)
    x = inputs[share].clone().requires_grad_(True)
    out = layer(x)
    out.backward(grad_out[share])
    torch.distributed.destroy_process_group()
    # NumPy arrays travel by value; tensors would travel as shared memory that
    # disappears when this process exits.
    return tuple(t.detach().numpy() for t in (out, x.grad, layer.weight.grad, layer.running_mean, layer.running_var))


def test_global_batchnorm_matches_one_batch():
    torch.manual_seed(1)
    inputs, grad_out = torch.randn(8, 3, 5, 5) * 3 + 1, torch.randn(8, 3, 5, 5)
    reference = nn.BatchNorm2d(3)
    x = inputs.clone().requires_grad_(True)
    out = reference(x)
    out.backward(grad_out)

    outcome = run_ranks(_batchnorm_check, inputs, grad_out)
    for rank in (0, 1):
        status, value = outcome[rank]
        assert status == "ok", value
        part_out, part_grad, weight_grad, running_mean, running_var = map(torch.from_numpy, value)
        share = slice(rank * 4, (rank + 1) * 4)
        torch.testing.assert_close(part_out, out[share].detach(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(part_grad, x.grad[share], atol=1e-5, rtol=1e-5)
        # Each rank's weight gradient is its share; DDP averages them, so their sum is the full gradient / 2.
        torch.testing.assert_close(running_mean, reference.running_mean, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(running_var, reference.running_var, atol=1e-5, rtol=1e-5)
    total = torch.from_numpy(outcome[0][1][2] + outcome[1][1][2])
    torch.testing.assert_close(total, reference.weight.grad, atol=1e-5, rtol=1e-5)


def _hang_check():
    init_process_group("gloo", timeout_s=3)
    if torch.distributed.get_rank() == 1:
        import time

        time.sleep(60)
        return "slept"
    torch.distributed.all_reduce(torch.ones(2))
    return "reduced"


def test_timeout_stops_rank_waiting_for_hung_peer():
    outcome = run_ranks(_hang_check, timeout=60, wait_for=[0])
    status, (message, communication, _) = outcome[0]
    assert status == "error"
    assert communication, message
