"""`-profile slurm,test` on a one-node Slurm cluster this test starts itself: Debian's slurm-wlm (slurmctld and
slurmd on 127.0.0.1, ports of its own) with munge. The path users take when one machine is not enough.

A -stub run keeps it to about a minute: every task of the train mode is submitted with sbatch, polled with
squeue and finished by Slurm (the real tools run in test_pipeline_run.py). Skips, with the reason, where the
Slurm or munge binaries are missing (apt-get install slurm-wlm munge) or the daemons cannot start here.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from test_pipeline_run import _trace, run_nextflow

pytestmark = pytest.mark.pipeline


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """slurmctld + slurmd for this machine as one node; yields the environment that points sbatch at it."""
    missing = [
        tool
        for tool in ("slurmctld", "slurmd", "sbatch", "squeue", "munged", "munge")
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing:
        pytest.skip(f"Slurm test needs {', '.join(missing)} (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        pytest.skip("Slurm test starts slurmd, which must run as root to launch jobs; not root here")
    root = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir()
    started: list[int] = []
    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["/usr/sbin/munged", "--force", "--pid-file", str(root / "munged.pid")], capture_output=True, text=True
        )
        if result.returncode != 0:
            pytest.skip(f"munged could not start here: {result.stderr.strip()[-300:]}")
        started.append(_pid(root / "munged.pid") or 0)
    host = socket.gethostname().split(".")[0]
    memory_mb = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 - 1024
    conf = root / "slurm.conf"
    conf.write_text(f"""ClusterName=bertrbptest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for daemon in ("slurmctld", "slurmd"):
        result = subprocess.run([f"/usr/sbin/{daemon}", "-f", str(conf)], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"{daemon} could not start here: {result.stderr.strip()[-300:]}")
    for daemon in ("slurmctld", "slurmd"):
        for _ in range(50):
            if _pid(root / f"{daemon}.pid"):
                break
            time.sleep(0.2)
        started.append(_pid(root / f"{daemon}.pid") or 0)
    try:
        for _ in range(60):
            info = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
            if info.stdout.strip() in ("idle", "mix"):
                break
            time.sleep(0.5)
        else:
            log = (
                (root / "log" / "slurmctld.log").read_text()[-500:] if (root / "log" / "slurmctld.log").exists() else ""
            )
            pytest.skip(f"the one-node Slurm cluster did not become idle: sinfo {info.stdout.strip()!r} {log}")
        yield {"env": env, "root": root}
    finally:
        for pid in reversed([pid for pid in started if pid]):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def test_slurm_profile_runs_the_test_profile(slurm_cluster, tmp_path, monkeypatch):
    for key, value in slurm_cluster["env"].items():
        monkeypatch.setenv(key, value)
    fast = tmp_path / "fast_polling.config"
    fast.write_text("executor {\n    pollInterval = '1 sec'\n    queueStatInterval = '2 sec'\n}\n")
    result = run_nextflow(
        "-stub", "-profile", "slurm,test", "-c", str(fast), "--outdir", str(tmp_path / "out"), cwd=tmp_path, timeout=900
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    trace = _trace(tmp_path / "out")
    assert len(trace) == 2 * 10 + 1 and all(row["status"] == "COMPLETED" for row in trace)
    # every task went through Slurm: a job id in place of the local executor's process id
    runs = list((tmp_path / "work").glob("*/*/.command.run"))
    assert runs and all("#SBATCH -J nf-" in path.read_text() for path in runs)
    assert all(row["native_id"].isdigit() for row in trace)
