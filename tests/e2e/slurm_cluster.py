"""A one-node Slurm cluster from Debian's packages (slurmctld, slurmd, slurm-client, munge), started
for a test and torn down by pid afterwards, pass or fail.

munged runs with a key generated in a temp folder (as root it needs --force); slurmctld -D and
slurmd -D run as root without systemd, from a private SLURM_CONF: SlurmctldHost is `hostname -s`
on 127.0.0.1, free high ports, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, state and
spool folders in the temp folder, ReturnToService=2. A watchdog process tears everything down if
the test runner dies. Every process of the cluster (daemons, slurmstepd, job steps) carries
SLURM_CONF=<this cluster's file> in its environment, which is how teardown finds them.
"""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue")

WATCHDOG = r"""
import os, signal, sys, time
runner, stop_file, conf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def ours():
    pids = []
    for p in os.listdir('/proc'):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            env = open(f'/proc/{p}/environ', 'rb').read().split(b'\0')
        except OSError:
            continue
        if ('MMB_SLURM_CLUSTER=' + conf).encode() in env:
            pids.append(int(p))
    return pids
while not os.path.exists(stop_file):
    try:
        os.kill(runner, 0)
    except ProcessLookupError:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in ours():
                try: os.kill(pid, sig)
                except OSError: pass
            time.sleep(2)
        import shutil
        shutil.rmtree(os.path.dirname(conf), ignore_errors=True)
        break
    time.sleep(0.5)
"""


def available():
    """Why a cluster cannot start here, or None."""
    for tool in DAEMONS:
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"{tool} is not installed (tools/setup.sh installs slurmctld slurmd slurm-client munge)"
    if os.geteuid() != 0:
        return "slurmd must run as root"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sbin(name):
    return shutil.which(name) or f"/usr/sbin/{name}"


class SlurmCluster:
    """with SlurmCluster() as c: c.run(["sbatch", ...]) ... (a context manager)."""

    def __init__(self, cpus=2, memory_mb=2048):
        self.cpus, self.memory_mb = cpus, memory_mb
        self.procs = []
        self.timings = {}

    # -- set-up ---------------------------------------------------------------
    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mmb-slurm-")
        self.dir = pathlib.Path(self._tmp.name)
        self.conf = self.dir / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf), MMB_SLURM_CLUSTER=str(self.conf))
        started = time.monotonic()
        try:
            self._start_watchdog()
            self._start_munge()
            self._write_conf()
            self._spawn([sbin("slurmctld"), "-D", "-i"], "slurmctld")
            self._spawn([sbin("slurmd"), "-D"], "slurmd")
            self._wait_for_idle_node()
        except BaseException:
            self.teardown()
            raise
        self.timings["start"] = time.monotonic() - started
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    def _spawn(self, cmd, name):
        log = open(self.dir / f"{name}.out", "wb")
        self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))
        log.close()
        return self.procs[-1]

    def _start_watchdog(self):
        self.stop_file = self.dir / "stop-watchdog"
        self.watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(self.stop_file),
                                          str(self.conf)], start_new_session=True)

    def _start_munge(self):
        key = self.dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.munge_socket = self.dir / "munge.socket"
        self._spawn([sbin("munged"), "-F", "--force", f"--key-file={key}", f"--socket={self.munge_socket}",
                     f"--pid-file={self.dir / 'munged.pid'}", f"--log-file={self.dir / 'munged.log'}",
                     f"--seed-file={self.dir / 'munged.seed'}"], "munged")
        deadline = time.monotonic() + 10
        while not self.munge_socket.exists():
            if time.monotonic() > deadline or self.procs[-1].poll() is not None:
                raise RuntimeError("munged did not start: " + self.log("munged"))
            time.sleep(0.05)

    def _write_conf(self):
        host = socket.gethostname().split(".")[0]  # `hostname -s`: slurmd finds its node by it
        for d in ("state", "spool"):
            (self.dir / d).mkdir()
        self.conf.write_text(f"""\
ClusterName=mmbtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.dir / 'state'}
SlurmdSpoolDir={self.dir / 'spool'}
SlurmctldPidFile={self.dir / 'slurmctld.pid'}
SlurmdPidFile={self.dir / 'slurmd.pid'}
SlurmctldLogFile={self.dir / 'slurmctld.log'}
SlurmdLogFile={self.dir / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
MinJobAge=300
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")

    def _wait_for_idle_node(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited {p.returncode}:\n{self.logs()}")
            proc = self.run(["sinfo", "-h", "-o", "%T"], check=False)
            if proc.returncode == 0 and proc.stdout.strip() in ("idle", "idle*"):
                if proc.stdout.strip() == "idle":
                    return
            time.sleep(0.1)
        raise RuntimeError("the node did not become idle:\n" + self.logs())

    # -- use --------------------------------------------------------------------
    def run(self, cmd, check=True, **kwargs):
        proc = subprocess.run(cmd, env=kwargs.pop("env", self.env), capture_output=True, text=True, **kwargs)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def wait_for_jobs(self, job_ids, timeout=120):
        """Waits until none of job_ids is pending or running; returns {job id (with array index): state}."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.run(["squeue", "-h", "-j", ",".join(job_ids), "-o", "%i %T"], check=False).stdout.strip()
            if not out:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("jobs still queued:\n" + out + "\n" + self.logs())
        states = {}
        out = self.run(["scontrol", "show", "job", "-o"], check=False).stdout
        for line in out.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            job = fields.get("JobId")
            if "ArrayJobId" in fields and "ArrayTaskId" in fields:
                job = f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}"
            states[job] = (fields.get("JobState"), fields.get("ExitCode"))
        return states

    def log(self, name):
        for f in (self.dir / f"{name}.log", self.dir / f"{name}.out"):
            if f.exists():
                return f.read_text(errors="replace")[-3000:]
        return ""

    def logs(self):
        return "\n".join(f"--- {n}\n{self.log(n)}" for n in ("munged", "slurmctld", "slurmd"))

    # -- teardown ------------------------------------------------------------------
    def our_pids(self):
        """Every process carrying this cluster's marker: daemons, slurmstepd and job processes."""
        marker = f"MMB_SLURM_CLUSTER={self.conf}".encode()
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == os.getpid():
                continue
            try:
                if marker in pathlib.Path(f"/proc/{p}/environ").read_bytes().split(b"\0"):
                    pids.append(int(p))
            except OSError:
                continue
        return pids

    def teardown(self):
        started = time.monotonic()
        if getattr(self, "conf", None) and self.conf.exists():
            self.run(["scancel", "--quiet", "--full", "-u", "root"], check=False, timeout=10)
        for p in reversed(self.procs):  # slurmd, slurmctld, then munged
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.our_pids() if getattr(self, "conf", None) else []
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + 3
            while pids and time.monotonic() < deadline and self.our_pids():
                time.sleep(0.05)
        if getattr(self, "watchdog", None):
            self.stop_file.touch()
            try:
                self.watchdog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
                self.watchdog.wait()
        self.left_over = self.our_pids() if getattr(self, "conf", None) else []
        self.timings["teardown"] = time.monotonic() - started
        if getattr(self, "_tmp", None):
            self._tmp.cleanup()
