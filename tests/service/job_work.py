"""What the jobs of test_jobs.py run, in a module of their own: a job's spawned process
imports the module its work is defined in, and this one loads no service, no test
client and no planner (test_jobs.py itself took 2.8 s to import in every job)."""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from promiseline.service.jobs import Answer, Say


def hog(mb: int, say: Say) -> Answer:
    """Take `mb` MB and hold it, 50 MB a tenth of a second (a job over its memory limit:
    a planner's sizing grows as it builds its model)."""
    held = []
    for i in range(mb // 50):
        held.append(np.ones(50 * 2**20 // 8))
        say(f"{(i + 1) * 50} MB")
        time.sleep(0.1)
    time.sleep(30)
    return Answer({}, None)


def sleeper(seconds: float, say: Say) -> Answer:
    say("sleeping")
    time.sleep(seconds)
    return Answer({}, None)


def table(rows: int, say: Say) -> Answer:
    say("making a table")
    return Answer({"t": pl.DataFrame({"x": np.arange(rows)})}, None, note="made")


def niceness(say: Say) -> Answer:
    import os

    return Answer({}, None, note=str(os.nice(0)))


def failing(say: Say) -> Answer:
    raise ValueError("bad luck")
