"""Data-parallel training (DDP over gloo on the CPU): the same numbers as one process, stop, two nodes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from playground.bundle import load_bundle
from playground.runner.execute import execute
from playground.runner.launcher import start_run, stop_run
from playground.runner.spec import RunSpec

ROOT = Path(__file__).resolve().parents[2]
# SGD on LeNet-5 (no dropout, no BatchNorm): one epoch of digits, 26 steps of a global batch of 64.
SETTINGS = {"epochs": 1, "optimizer": "sgd", "lr": 0.05, "batch_size": 64, "seed": 0}


def single_process_weights() -> dict[str, torch.Tensor]:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        return execute(RunSpec.resolve("lenet5", "digits", threads=1, **SETTINGS)).bundle.model.state_dict()
    finally:
        torch.set_num_threads(threads)


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def wait(run, timeout: float = 120.0) -> dict:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while run.status().get("status") in ("queued", "running"):
        assert time.monotonic() < end, run.log_tail()
        time.sleep(0.2)
    return run.status()


def test_two_processes_give_the_weights_of_one_with_the_same_global_batch(tmp_path: Path) -> None:
    spec = RunSpec.resolve("lenet5", "digits", nproc_per_node=2, threads=2, **SETTINGS)
    run = start_run(spec, tmp_path, limit=1)
    state = wait(run)
    assert state["status"] == "done", run.log_tail()
    assert state["metrics"]["epochs_completed"] == 1
    ddp = load_bundle(run.checkpoint()).model.state_dict()  # type: ignore[arg-type]
    assert max_difference(ddp, single_process_weights()) <= 1e-6


def test_a_data_parallel_run_stops_on_every_rank_and_keeps_its_weights(tmp_path: Path) -> None:
    spec = RunSpec.resolve("lenet5", "digits", nproc_per_node=2, threads=2, epochs=500)
    run = start_run(spec, tmp_path, limit=1)
    end = time.monotonic() + 120
    while len(run.epochs()) < 2:
        assert time.monotonic() < end and run.status()["status"] == "running", run.log_tail()
        time.sleep(0.1)
    assert stop_run(run) == "signalled"
    state = wait(run)
    assert state["status"] == "stopped", run.log_tail()
    assert 2 <= len(run.epochs()) < 500
    assert load_bundle(run.checkpoint()).card.training["stopped"] is True  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_nodes_on_localhost_train_one_model(tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in SETTINGS.items()]
    nodes = []
    for rank in (0, 1):
        env = {**os.environ, "PLAYGROUND_RUNS": str(tmp_path / f"node{rank}"), "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "playground", "train", "--model", "lenet5", "--dataset", "digits"]
        command += [*flags, "--nproc-per-node=1", "--nnodes=2", f"--node-rank={rank}", f"--rdzv-endpoint={endpoint}"]
        nodes.append(subprocess.Popen([*command, "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True))
    outputs = [node.communicate(timeout=180)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    result = json.loads(outputs[0])
    assert json.loads(outputs[1]) == {"checkpoint": ""}
    weights = load_bundle(result["checkpoint"]).model.state_dict()
    # two nodes of one process each: the same global batch of 64, split 32 + 32
    assert max_difference(weights, single_process_weights()) <= 1e-6


@pytest.mark.parametrize(
    "bad", [{"nproc_per_node": 0}, {"nnodes": 2}, {"nnodes": 2, "node_rank": 2, "rdzv_endpoint": "h:1"}]
)
def test_bad_distributed_settings_are_refused(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        RunSpec.resolve("lenet5", "digits", **bad)


def test_batchnorm_becomes_syncbatchnorm_on_cuda_only_and_keeps_its_checkpoint_keys() -> None:
    from torch import nn

    from playground.models.lenet import LeNet5
    from playground.models.resnet_cifar import ResNetCIFAR
    from playground.training.distributed import sync_batchnorm

    model = ResNetCIFAR(num_classes=3)
    keys = {k: v.clone() for k, v in model.state_dict().items()}
    assert sync_batchnorm(model, torch.device("cpu")) is model  # gloo: SyncBatchNorm runs on GPUs only
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())

    converted = sync_batchnorm(model, torch.device("cuda"))  # conversion only: no GPU needed
    batchnorms = [m for m in converted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert batchnorms and all(isinstance(m, nn.SyncBatchNorm) for m in batchnorms)
    state = converted.state_dict()
    assert state.keys() == keys.keys() and max_difference(state, keys) == 0.0  # a checkpoint loads into plain BN
    lenet = LeNet5()
    assert sync_batchnorm(lenet, torch.device("cuda")) is lenet  # nothing to convert
