"""`status --check`'s judgement: a job is overdue after three of its intervals without a
success (never less than ten minutes); any instance's success counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from outreach.health import MIN_OVERDUE, JobSuccess, job_problems, overdue_after

NOW = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
SCHEDULE = {"plan": 300, "dispatch": 15, "retention": 3600}


def ok(job: str, ago: timedelta, instance: str = "a") -> JobSuccess:
    return JobSuccess(job, instance, NOW - ago)


def test_overdue_after_three_intervals_but_never_under_ten_minutes() -> None:
    assert overdue_after(15) == MIN_OVERDUE == timedelta(minutes=10)
    assert overdue_after(300) == timedelta(minutes=15)
    assert overdue_after(3600) == timedelta(hours=3)


def test_recent_successes_are_healthy() -> None:
    runs = [ok("plan", timedelta(minutes=14)), ok("dispatch", timedelta(minutes=9))]
    runs.append(ok("retention", timedelta(hours=2, minutes=59)))
    assert job_problems(runs, SCHEDULE, now=NOW) == []


def test_an_overdue_job_is_named_with_its_age() -> None:
    runs = [ok("plan", timedelta(minutes=16)), ok("dispatch", timedelta(minutes=1))]
    runs.append(ok("retention", timedelta(minutes=1)))
    [problem] = job_problems(runs, SCHEDULE, now=NOW)
    assert problem.startswith("daemon job plan: last succeeded 16 min ago")
    assert "runs every 300 s" in problem


def test_a_job_that_never_succeeded_is_a_problem() -> None:
    runs = [ok("plan", timedelta(minutes=1)), JobSuccess("dispatch", "a", None)]
    problems = job_problems(runs, SCHEDULE, now=NOW)
    assert problems == [
        "daemon job dispatch: no run has succeeded yet",
        "daemon job retention: no run has succeeded yet",
    ]


def test_the_newest_success_of_any_instance_counts() -> None:
    runs = [
        ok("plan", timedelta(hours=5), instance="old-host"),
        ok("plan", timedelta(minutes=2), instance="new-host"),
    ]
    assert job_problems(runs, {"plan": 300}, now=NOW) == []


def test_jobs_not_scheduled_are_not_judged() -> None:
    runs = [ok("plan", timedelta(minutes=1)), ok("replies", timedelta(days=3))]
    assert job_problems(runs, {"plan": 300}, now=NOW) == []
