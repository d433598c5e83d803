"""jetviz.compute: jobs on a thread, a process, a real second Jupyter kernel, a real Jupyter Server
(the gateway path) and a real dask LocalCluster; the run registry; faults (killed kernel, killed
process, cancel) and resume from the checkpoint with no lost history."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from jetviz.compute import Job, JobFailed, JobFeed, Registry, backend, submit
from jetviz.compute import DaskBackend, KernelBackend, ProcessBackend, ThreadBackend
from jetviz.errors import ConfigError, DataFileError
from jetviz.errors import Cancelled
from jetviz.runners.jetclr import JetclrConfig, JetclrResult
from jetviz.data.io import load_torch_file

#: a jetclr run of toy jets that trains in about a second per epoch on a busy CPU
TINY = dict(sample="toy_top_qcd", n_jets=160, d_model=8, n_heads=2, n_layers=1, rep_dim=8, proj_dim=4, batch_size=16,
            n_angles=5, n_invariance=16, threads=1, n_constituents=20, extra_slots=4)


def tiny(epochs: int = 2) -> JetclrConfig:
    return JetclrConfig(**TINY, epochs=epochs)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("JETVIZ_RUNS", str(tmp_path / "runs"))
    return Registry(tmp_path / "registry.sqlite")


def first(job, kind: str, timeout: float = 120.0) -> dict:
    """The job's first event of ``kind`` (waits for it)."""
    deadline = time.monotonic() + timeout
    index = 0
    while time.monotonic() < deadline:
        new = job.events(index, timeout=0.5)
        for event in new:
            if event.get("kind") == kind:
                return event
        index += len(new)
        if job.done and not new:
            break
    raise AssertionError(f"no {kind!r} event from {job} ({job.error})")


def epochs_of(job) -> list[int]:
    return [e["epoch"] for e in job.events() if e.get("kind") == "epoch"]


# ----------------------------------------------------------------------------- registry
def test_registry_records_a_run_and_refuses_a_foreign_file(tmp_path):
    reg = Registry(tmp_path / "r.sqlite")
    reg.create("a1", "jetclr", tmp_path / "run", "local", {"epochs": 2})
    reg.set_status("a1", "running", device="cpu")
    reg.add_epoch("a1", {"epoch": 1, "train_loss": 2.0})
    reg.add_epoch("a1", {"epoch": 2, "train_loss": 1.5})
    reg.add_epoch("a1", {"epoch": 2, "train_loss": 1.4})  # a resumed run repeats an epoch: replaced
    reg.set_status("a1", "done", metrics={"auc": np.float64(0.9)})
    record = reg.get("a1")
    assert (record.status, record.device, record.metrics) == ("done", "cpu", {"auc": 0.9})
    assert [h["train_loss"] for h in record.history] == [2.0, 1.4]
    assert reg.epoch_counts() == {"a1": 2}
    assert record.seconds is not None and record.seconds >= 0
    assert reg.find(tmp_path / "run").id == "a1" and reg.find(tmp_path / "other") is None
    assert [r.id for r in reg.runs(runner="jetclr")] == ["a1"] and reg.runs(status="failed") == []
    with pytest.raises(KeyError, match="no run 'zz'"):
        reg.get("zz")
    with pytest.raises(ValueError, match="unknown status"):
        reg.set_status("a1", "exploded")
    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataFileError, match="not-a-db.sqlite"):
        Registry(bad)


# ----------------------------------------------------------------------------- the job and its feed
def test_the_feed_drives_a_job_through_one_end_event(tmp_path):
    job = Job("jetclr", {"epochs": 4}, tmp_path, "test")
    feed, seen, hooks = JobFeed(job), [], []
    job.subscribe(seen.append)
    feed.put({"kind": "hello", "pid": 1})
    assert job.status == "running" and job.info["pid"] == 1
    job.cancel()
    job.cancel()  # a second request does nothing more
    feed.on_cancel(lambda: hooks.append("late"))  # a hook registered after the request runs at once
    assert hooks == ["late"] and feed.cancel_requested()
    feed.put({"kind": "end", "status": "exploded"})  # not a status of the protocol: failed, saying so
    feed.put({"kind": "epoch", "epoch": 1})  # after the end: dropped
    feed.put({"kind": "end", "status": "done"})  # a second end: ignored
    assert job.status == "failed" and "unknown status 'exploded'" in job.error
    assert [e["kind"] for e in job.events()] == ["hello"]
    assert seen[-1] == {"kind": "end", "status": "failed", "message": job.error} and len(seen) == 2
    with pytest.raises(JobFailed, match="on test failed: the executing side ended with an unknown status"):
        job.result()


def test_eta_comes_from_the_run_wide_fraction_when_events_carry_it(tmp_path):
    job, started = Job("jetclr", {"epochs": 10}, tmp_path, "test"), time.monotonic()
    feed = JobFeed(job)
    feed.put({"kind": "stage", "stage": "prepare", "fraction": 0.0})
    time.sleep(0.2)
    feed.put({"kind": "step", "epoch": 1, "step": 1, "n_steps": 100, "fraction": 0.8})  # epoch/step alone: 0.001 done
    elapsed = time.monotonic() - started
    eta = job.events()[-1]["eta_s"]
    assert 0.2 * 0.25 <= eta <= elapsed * 0.25  # time so far × (1 − 0.8) / (0.8 − 0.0)
    fallback = Job("jetclr", {"epochs": 10}, tmp_path, "test")  # no fraction: from epoch and step
    feed = JobFeed(fallback)
    feed.put({"kind": "stage", "stage": "prepare"})
    feed.put({"kind": "step", "epoch": 1, "step": 50, "n_steps": 100})
    time.sleep(0.2)
    feed.put({"kind": "epoch", "epoch": 1})
    assert "eta_s" not in fallback.events()[0] and "eta_s" not in fallback.events()[1]
    assert fallback.events()[2]["eta_s"] >= 0.2 * 0.9 / 0.05  # 0.05 of the run in ≥ 0.2 s, 0.9 left


# ----------------------------------------------------------------------------- backends and submit
def test_backend_strings_and_bad_requests_fail_before_anything_starts(registry):
    assert isinstance(backend("local"), ThreadBackend) and isinstance(backend("process"), ProcessBackend)
    assert backend("kernel").kernel_name == "python3" and backend("kernel:gpu-py").kernel_name == "gpu-py"
    assert backend("tcp://10.0.0.1:8786").address == "tcp://10.0.0.1:8786" and isinstance(backend("dask"), DaskBackend)
    gateway = backend("https://gpu.example.org:8888/base?token=t0k&kernel=torch")
    assert (gateway.base, gateway.token, gateway.kernel_name) == ("https://gpu.example.org:8888/base", "t0k", "torch")
    with pytest.raises(ConfigError, match="unknown backend 'ssh://x'"):
        backend("ssh://x")
    with pytest.raises(ConfigError, match="unknown runner 'gan'"):
        submit("gan", {}, "local", registry=registry)
    with pytest.raises(ConfigError, match="epochs"):
        submit("jetclr", dict(tiny().to_dict(), epochs=-3), "local", registry=registry)
    assert registry.runs() == []  # nothing was recorded for refused jobs


def test_thread_job_streams_progress_and_records_the_run(registry):
    job = submit("jetclr", tiny(3), "local", registry=registry)
    events = list(job.stream())
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "hello" and "step" in kinds and kinds.count("epoch") == 3 and kinds[-1] == "done"
    assert job.info["cuda"] in (False, True) and job.info["pid"] == os.getpid()
    assert any("eta_s" in e for e in events if e["kind"] in ("step", "epoch"))
    result = job.result()
    assert isinstance(result, JetclrResult) and result.metrics == JetclrResult.load(job.run_dir).metrics
    record = registry.get(job.id)
    assert record.status == "done" and record.metrics["auc"] == pytest.approx(result.metrics["auc"])
    assert [h["epoch"] for h in record.history] == [1, 2, 3]


def test_cancel_keeps_the_checkpoint_and_the_same_run_dir_resumes(registry):
    job = submit("jetclr", tiny(40), "local", registry=registry)
    first(job, "epoch")
    job.cancel()
    assert job.wait(60) and job.status == "cancelled"
    with pytest.raises(Cancelled, match="checkpoint is kept"):
        job.result()
    done_before = epochs_of(job)
    assert (job.run_dir / "checkpoint.pt").exists() and registry.get(job.id).status == "cancelled"
    with pytest.raises(ConfigError, match="other settings"):  # the settings must be the run's own
        submit("jetclr", dict(tiny(40).to_dict(), epochs=done_before[-1] + 1), "local", run_dir=job.run_dir,
               registry=registry)
    resumed = submit("jetclr", tiny(40).to_dict(), "local", run_dir=job.run_dir, registry=registry)
    first(resumed, "epoch")
    resumed.cancel()
    resumed.wait(60)
    assert epochs_of(resumed)[0] == done_before[-1] + 1  # continued, not restarted
    assert resumed.id == job.id


# ----------------------------------------------------------------------------- a real second kernel
@pytest.mark.slow
def test_kernel_job_runs_in_a_second_kernel_and_streams_progress(registry):
    job = submit("jetclr", tiny(2), "kernel:python3", registry=registry)
    hello = first(job, "hello")
    assert hello["pid"] != os.getpid()  # another process: the kernel
    assert "cuda" in hello and hello["device"] in ("cpu", "cuda")
    result = job.result(timeout=240)
    assert epochs_of(job) == [1, 2] and result.metrics["n_test"] > 0
    assert registry.get(job.id).status == "done" and registry.get(job.id).device == hello["device"]


def test_killed_kernel_fails_the_job_clearly_and_the_app_carries_on(registry):
    job = submit("jetclr", tiny(200), KernelBackend("python3"), registry=registry)
    pid = first(job, "hello")["pid"]
    first(job, "epoch")
    os.kill(pid, signal.SIGKILL)
    assert job.wait(60), "the job did not notice its kernel died"
    assert job.status == "failed" and "died" in job.error and str(job.run_dir) in job.error
    with pytest.raises(JobFailed, match="on kernel:python3 failed: kernel .python3. died"):
        job.result()
    assert registry.get(job.id).status == "failed"
    assert (job.run_dir / "checkpoint.pt").exists()  # what it finished is kept
    # this process is fine: the next job runs
    assert submit("jetclr", tiny(1), "local", registry=registry).result(120).metrics["n_train"] > 0


def test_kernel_job_cancel(registry):
    job = submit("jetclr", tiny(200), "kernel", registry=registry)
    first(job, "epoch")
    job.cancel()
    assert job.wait(60) and job.status == "cancelled"
    assert not (job.run_dir / "CANCEL").exists()  # the request is cleared when the kernel is gone


# ----------------------------------------------------------------------------- a killed process resumes
def test_killed_process_resumes_from_its_checkpoint_with_no_lost_history(registry):
    config = tiny(8)
    job = submit("jetclr", config, "process", registry=registry)
    pid = first(job, "hello")["pid"]
    deadline = time.monotonic() + 120
    while len(epochs_of(job)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    assert job.wait(60) and job.status == "failed" and "killed by signal 9" in job.error
    finished = epochs_of(job)
    # the checkpoint is saved before its epoch event, so a kill between the two leaves one more
    saved = load_torch_file(job.run_dir / "checkpoint.pt")["epoch"]
    assert finished and saved in (finished[-1], finished[-1] + 1) and saved < 8
    resumed = submit("jetclr", config, "local", run_dir=job.run_dir, registry=registry)
    result = resumed.result(180)
    assert epochs_of(resumed)[0] == saved + 1  # from the checkpoint, not from scratch
    assert [h["epoch"] for h in result.history] == list(range(1, 9))  # the run's own history is whole
    record = registry.get(job.id)
    assert resumed.id == job.id and record.status == "done"
    assert [h["epoch"] for h in record.history] == list(range(1, 9))  # and the registry's


# ----------------------------------------------------------------------------- dask
@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_local_cluster_emd_matrix_equals_the_local_one(cluster_client):
    from jetviz.models.emd import emd_matrix

    rng = np.random.default_rng(3)
    jets = [(rng.exponential(30.0, n), rng.normal(0, 0.3, (n, 2))) for n in rng.integers(3, 40, 14)]
    local = emd_matrix(jets, p=0.5)
    np.testing.assert_array_equal(emd_matrix(jets, p=0.5, client=cluster_client, block_size=4), local)
    np.testing.assert_array_equal(emd_matrix(jets[:5], jets[5:], client=cluster_client), emd_matrix(jets[:5], jets[5:]))


def test_dask_job_streams_progress_from_a_worker_process(cluster_client, registry):
    job = submit("jetclr", tiny(2), DaskBackend(client=cluster_client), registry=registry)
    result = job.result(timeout=180)
    assert job.info["pid"] != os.getpid() and epochs_of(job) == [1, 2]
    assert result.metrics["n_test"] > 0 and registry.get(job.id).status == "done"


def test_dask_job_cancel(cluster_client, registry):
    job = submit("jetclr", tiny(200), DaskBackend(client=cluster_client), registry=registry)
    first(job, "epoch")
    job.cancel()
    assert job.wait(60) and job.status == "cancelled"


# ----------------------------------------------------------------------------- a real Jupyter Server (the gateway path)
@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path_factory.mktemp("server")
    jupyter = Path(sys.executable).parent / "jupyter"
    server = subprocess.Popen([str(jupyter), "server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                               "--IdentityProvider.token=test-token", f"--ServerApp.root_dir={root}", "--allow-root"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("jupyter server exited at start")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def test_gateway_job_on_a_real_jupyter_server(jupyter_server, registry):
    job = submit("jetclr", tiny(2), f"{jupyter_server}?token=test-token", registry=registry)
    result = job.result(timeout=240)
    assert job.info["pid"] != os.getpid() and epochs_of(job) == [1, 2] and result.metrics["n_test"] > 0
    assert registry.get(job.id).backend == f"gateway:{jupyter_server}"


def test_gateway_cancel_interrupts_and_a_wrong_token_is_a_clear_error(jupyter_server, registry):
    job = submit("jetclr", tiny(200), f"{jupyter_server}?token=test-token", registry=registry)
    first(job, "epoch")
    job.cancel()
    assert job.wait(60) and job.status == "cancelled"
    refused = submit("jetclr", tiny(1), f"{jupyter_server}?token=wrong", registry=registry)
    assert refused.wait(60) and refused.status == "failed" and "HTTP 403" in refused.error
