"""What ``/metrics`` reads at scrape time: queues, jobs, workers, processes, host, disk.

These are facts of the moment that no single process could keep current: how many jobs wait
(Redis and PostgreSQL), how old the oldest is, which workers are alive, how much CPU and
memory the worker processes and their ffmpeg children use.  A source that is down does not
break the scrape: its metrics are left out and ``fala_collector_up{source}`` says 0, so an
alert can tell "no backlog" from "cannot see the backlog".
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fala_clip import promdir
from jobs.models import ACTIVE_STATUSES, Job, JobKind, JobStatus

log = logging.getLogger(__name__)

#: Roles of the processes of a host: web (gunicorn), the RQ workers by queue, the scheduler.
ROLES = ("web", "heavy", "default", "scheduler")
PROCESS_KINDS = ("main", "horse", "ffmpeg", "child", "reaped")


def _up() -> GaugeMetricFamily:
    return GaugeMetricFamily("fala_collector_up", "1 when the source could be read at this scrape.", labels=["source"])


def _age(now: Any, then: Any) -> float:
    return max((now - then).total_seconds(), 0.0) if then else 0.0


class JobsCollector(Collector):
    """Queue depth and ages (Redis + PostgreSQL), running jobs, live workers (Redis)."""

    def collect(self) -> Iterator[Metric]:
        # One fala_collector_up family for both sources: a name may appear once per exposition.
        up = _up()
        metrics = [*self._postgres(up), *self._redis(up)]
        yield up
        yield from metrics

    def _postgres(self, up: GaugeMetricFamily) -> Iterator[Metric]:
        try:
            now = timezone.now()
            # One statement, so one snapshot: a job that starts between two queries would
            # otherwise count as queued in one gauge and running in the next (seen in CI: the
            # heavy queue's oldest age 9.5 s while the same scrape showed that job running).
            rows = list(
                Job.objects.filter(status__in=[JobStatus.QUEUED, *ACTIVE_STATUSES])
                .values("status", "queue", "kind")
                .annotate(n=Count("id"), q=Min("queued_at"), a=Min("analyzing_at"), c=Min("created_at"))
                .order_by()
            )
            queued: dict[str, Any] = {}
            running: dict[str, int] = {}
            started = []
            for r in rows:
                if r["status"] == JobStatus.QUEUED:
                    if r["q"] is not None and (queued.get(r["queue"]) is None or r["q"] < queued[r["queue"]]):
                        queued[r["queue"]] = r["q"]
                else:
                    running[r["kind"]] = running.get(r["kind"], 0) + r["n"]
                    if r["a"] is not None:
                        started.append(r["a"])
            oldest_running = min(started, default=None)
            unfinished = min((r["c"] for r in rows if r["c"] is not None), default=None)
        except Exception as exc:
            log.warning("metrics: PostgreSQL unreadable at scrape: %r", exc)
            up.add_metric(["postgres"], 0)
            return
        up.add_metric(["postgres"], 1)
        age = GaugeMetricFamily(
            "fala_queue_oldest_job_age_seconds",
            "Seconds the oldest queued job of the queue has waited (0 when none waits).",
            labels=["queue"],
        )
        for queue in settings.RQ_QUEUES:
            age.add_metric([queue], _age(now, queued.get(queue)))
        yield age
        run = GaugeMetricFamily("fala_jobs_running", "Jobs analysing or rendering now, by kind.", labels=["kind"])
        for kind in JobKind.values:
            run.add_metric([kind], running.get(kind, 0))
        yield run
        yield GaugeMetricFamily(
            "fala_job_oldest_running_age_seconds",
            "Seconds since the oldest running job started its current attempt (0 when none runs).",
            value=_age(now, oldest_running),
        )
        yield GaugeMetricFamily(
            "fala_job_oldest_unfinished_age_seconds",
            "Seconds since the oldest queued or running job was created: the SLA signal (0 when none).",
            value=_age(now, unfinished),
        )

    def _redis(self, up: GaugeMetricFamily) -> Iterator[Metric]:
        try:
            import django_rq
            from rq import Worker

            depth = GaugeMetricFamily("fala_queue_depth", "Jobs waiting in the RQ queue.", labels=["queue"])
            alive = GaugeMetricFamily(
                "fala_workers_alive", "RQ workers registered and alive, by queue and host.", labels=["queue", "host"]
            )
            for name in settings.RQ_QUEUES:
                queue = django_rq.get_queue(name)
                depth.add_metric([name], queue.count)
                hosts: dict[str, int] = defaultdict(int)
                for worker in Worker.all(queue=queue):
                    hosts[worker.hostname or "?"] += 1
                if not hosts:
                    alive.add_metric([name, socket.gethostname()], 0)
                for host, n in hosts.items():
                    alive.add_metric([name, host], n)
        except Exception as exc:
            log.warning("metrics: Redis unreadable at scrape: %r", exc)
            up.add_metric(["redis"], 0)
            return
        up.add_metric(["redis"], 1)
        yield depth
        yield alive


def _role_of(cmdline: list[str]) -> str | None:
    joined = " ".join(cmdline)
    if "manage.py" in joined and " worker " in f"{joined} ":
        for role in ("heavy", "default"):
            if f" worker {role}" in joined:
                return role
        return None
    if "manage.py" in joined and " scheduler" in joined:
        return "scheduler"
    if "gunicorn" in joined and "fala_clip" in joined:
        return "web"
    return None


def _kind_of(proc: Any, root_pid: int) -> str:
    try:
        name = proc.name()
    except Exception:
        return "child"
    if name in ("ffmpeg", "ffprobe"):
        return "ffmpeg"
    if proc.ppid() == root_pid and name.startswith("python"):
        return "horse"
    return "child"


class ProcessCollector(Collector):
    """CPU seconds and resident memory of this host's fala-clip processes and their children.

    Roots are found by command line (gunicorn, ``manage.py worker heavy|default``,
    ``manage.py scheduler``); everything below a root counts for its role, split into the
    root itself (``main``), RQ's work-horse (``horse``), ffmpeg/ffprobe and other
    descendants (``child``, e.g. the background music analysis).  ``reaped`` is the CPU of
    descendants that already exited and were waited for (the kernel's per-process children
    times): with it, a role's CPU total keeps growing when a horse exits instead of
    dropping back, so ``rate()`` over the sum is right.
    """

    def collect(self) -> Iterator[Metric]:
        import psutil

        cpu: dict[tuple[str, str], float] = defaultdict(float)
        rss: dict[tuple[str, str], float] = defaultdict(float)
        count: dict[tuple[str, str], int] = defaultdict(int)
        roots: list[tuple[str, Any]] = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            role = _role_of(proc.info.get("cmdline") or [])
            if role is None:
                continue
            try:
                parent = proc.parent()
                if parent is not None and _role_of(parent.cmdline()) == role:
                    continue  # a gunicorn worker under its arbiter: counted as the arbiter's child
            except Exception:
                pass
            roots.append((role, proc))
        for role, root in roots:
            self._add(root, role, "main", cpu, rss, count, own=True)
            try:
                descendants: Iterable[Any] = root.children(recursive=True)
            except Exception:
                descendants = []
            for child in descendants:
                kind = "main" if role == "web" and child.ppid() == root.pid else _kind_of(child, root.pid)
                self._add(child, role, kind, cpu, rss, count, own=False)
        cpu_m = CounterMetricFamily(
            "fala_process_cpu_seconds",
            "CPU seconds (user + system) of the host's fala-clip processes by role and kind.",
            labels=["role", "process"],
        )
        rss_m = GaugeMetricFamily(
            "fala_process_resident_memory_bytes",
            "Resident memory of the host's fala-clip processes by role and kind (sum).",
            labels=["role", "process"],
        )
        n_m = GaugeMetricFamily("fala_processes", "Processes of the host by role and kind.", labels=["role", "process"])
        for key in sorted(set(cpu) | set(rss)):
            cpu_m.add_metric(list(key), cpu[key])
            if key[1] != "reaped":
                rss_m.add_metric(list(key), rss[key])
                n_m.add_metric(list(key), count[key])
        yield cpu_m
        yield rss_m
        yield n_m

    @staticmethod
    def _add(proc: Any, role: str, kind: str, cpu: Any, rss: Any, count: Any, *, own: bool) -> None:
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                mem = proc.memory_info().rss
        except Exception:  # exited between listing and reading
            return
        cpu[(role, kind)] += times.user + times.system
        rss[(role, kind)] += mem
        count[(role, kind)] += 1
        if own:
            cpu[(role, "reaped")] += times.children_user + times.children_system


class HostCollector(Collector):
    """Host CPU time by mode, memory, the work dir's disk, the metrics directory itself."""

    def collect(self) -> Iterator[Metric]:
        import psutil

        cpu = CounterMetricFamily(
            "fala_host_cpu_seconds",
            "Host CPU seconds by mode (all cores; rate() / cpus = utilisation).",
            labels=["mode"],
        )
        for mode, seconds in psutil.cpu_times()._asdict().items():
            if mode in ("guest", "guest_nice"):
                continue  # already inside user/nice (Linux counts guest time twice)
            cpu.add_metric([mode], seconds)
        yield cpu
        yield GaugeMetricFamily("fala_host_cpus", "Logical CPUs of the host.", value=psutil.cpu_count() or 1)
        mem = psutil.virtual_memory()
        total, available = float(mem.total), float(mem.available)
        limit = _read_int("/sys/fs/cgroup/memory.max") or _read_int("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        if limit is not None and limit < total:  # a container: its cgroup limit is the real ceiling
            used = _read_int("/sys/fs/cgroup/memory.current") or _read_int(
                "/sys/fs/cgroup/memory/memory.usage_in_bytes"
            )
            total = float(limit)
            if used is not None:
                available = min(available, max(total - used, 0.0))
        yield GaugeMetricFamily("fala_host_memory_total_bytes", "Memory of the host, or its cgroup limit.", value=total)
        yield GaugeMetricFamily(
            "fala_host_memory_available_bytes",
            "Memory available without swapping (MemAvailable, capped by the cgroup's headroom).",
            value=available,
        )
        work = settings.WORK_DIR
        probe = work if os.path.isdir(work) else settings.VAR_DIR
        try:
            usage = shutil.disk_usage(probe)
        except OSError:
            pass
        else:
            yield GaugeMetricFamily(
                "fala_workdir_disk_free_bytes", "Free bytes on the work dir's disk.", value=usage.free
            )
            yield GaugeMetricFamily("fala_workdir_disk_total_bytes", "Size of the work dir's disk.", value=usage.total)
        files, size = promdir.dir_usage()
        yield GaugeMetricFamily("fala_metrics_multiproc_files", "Value files in PROMETHEUS_MULTIPROC_DIR.", value=files)
        yield GaugeMetricFamily("fala_metrics_multiproc_bytes", "Bytes in PROMETHEUS_MULTIPROC_DIR.", value=size)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            raw = fh.read().strip()
    except OSError:
        return None
    return int(raw) if raw.isdigit() else None


class ScrapeTimer:
    """Times the collection; reported as ``fala_scrape_duration_seconds`` on the next line."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def metric(self) -> Metric:
        return GaugeMetricFamily(
            "fala_scrape_duration_seconds",
            "Seconds this scrape spent collecting (multiprocess files + scrape-time collectors).",
            value=time.perf_counter() - self.t0,
        )
