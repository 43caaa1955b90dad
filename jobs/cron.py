"""The periodic scheduler: RQ's ``CronScheduler`` that outlives Redis outages.

RQ's ``CronScheduler.start`` lets the first Redis error out of its loop, so a Redis restart of
a few seconds ended ``manage.py scheduler`` (and, with it, the old ``serve.sh``).  Here a loop
turn that finds Redis down is logged once, retried with a capped backoff, and the scheduler
registers itself again when Redis answers (a restarted Redis has lost its registry).  A timed
run missed during the outage is enqueued as soon as Redis is back (its next time is only moved
once it was enqueued).
"""

from __future__ import annotations

import logging
import signal
import time

from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from jobs.dispatch import REDIS_DOWN

log = logging.getLogger(__name__)


class ResilientCronScheduler(CronScheduler):
    #: Seconds between two attempts while Redis is down: 0.5, 1, 2, … up to this.
    max_retry_wait_s = 5.0

    def start(self) -> None:
        self.log.info("CronScheduler %s: starting...", self.name)
        self._install_signal_handlers()
        registered = False
        down_since: float | None = None
        wait = 0.5
        try:
            while True:
                try:
                    if not registered:
                        self.register_birth()
                        registered = True
                    if self.enqueue_jobs():
                        self.save()  # persist the jobs' next run times
                    self.heartbeat()
                except REDIS_DOWN as exc:
                    if down_since is None:
                        down_since = time.monotonic()
                        log.warning("scheduler %s: Redis unreachable (%s); retrying", self.name, exc)
                    registered = False
                    time.sleep(wait)
                    wait = min(wait * 2, self.max_retry_wait_s)
                    continue
                if down_since is not None:
                    log.warning(
                        "scheduler %s: Redis reachable again after %.1f s; resuming",
                        self.name,
                        time.monotonic() - down_since,
                    )
                    down_since, wait = None, 0.5
                sleep_time = self.calculate_sleep_interval()
                if sleep_time > 0:
                    time.sleep(sleep_time)
        except KeyboardInterrupt:
            self.log.info("CronScheduler %s: received KeyboardInterrupt", self.name)
        except StopRequested:
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            # A second SIGTERM (the supervisor's, after the process group's) must not interrupt this.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                self.register_death()
            except REDIS_DOWN:
                pass  # Redis is down: its registry entry expires on its own
            self.log.info("CronScheduler %s: shutdown complete", self.name)
