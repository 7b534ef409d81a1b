"""The health report's thresholds, and how soon the poll loop checks a failure again."""

from __future__ import annotations

from dockyard.domain.agent.health import FAILED_POLLS_UNHEALTHY, POLL_STALENESS, AgentHealth
from dockyard.domain.agent.polling import BACKOFF, RECHECK_AFTER_FAILURE, wait_after_poll

BACKEND = "the backend at http://127.0.0.1:4200"


def healthy_agent() -> AgentHealth:
    health = AgentHealth(backend=BACKEND)
    health.daemon_ok()
    health.poll_succeeded(now=0.0)
    return health


def test_one_failed_poll_is_a_blip_and_two_in_a_row_make_the_agent_unhealthy_naming_the_backend() -> None:
    health = healthy_agent()
    health.poll_failed("cannot reach the API at http://127.0.0.1:4200: refused")
    assert health.report(now=11.0).healthy
    health.poll_failed("cannot reach the API at http://127.0.0.1:4200: refused")
    report = health.report(now=12.0)
    assert not report.healthy
    assert report.reasons == (
        f"{BACKEND} is unreachable ({FAILED_POLLS_UNHEALTHY} polls in a row failed): "
        "cannot reach the API at http://127.0.0.1:4200: refused",
    )
    assert report.details["backend"] == "unreachable" and report.details["daemon"] == "ok"


def test_the_next_good_poll_makes_it_healthy_again() -> None:
    health = healthy_agent()
    for _ in range(5):
        health.poll_failed("down")
    assert not health.report(now=30.0).healthy
    health.poll_succeeded(now=31.0)
    assert health.report(now=31.5).healthy and health.failed_polls == 0


def test_a_poll_that_never_ends_shows_as_staleness() -> None:
    health = healthy_agent()
    assert health.report(now=POLL_STALENESS - 1).healthy
    report = health.report(now=POLL_STALENESS + 1)
    assert not report.healthy and f"no successful poll of {BACKEND} for" in report.reasons[0]


def test_before_the_first_good_poll_the_agent_is_unhealthy() -> None:
    health = AgentHealth(backend=BACKEND)
    health.daemon_ok()
    assert health.report(now=0.0).reasons == (f"no successful poll of {BACKEND} yet",)


def test_after_a_first_failure_the_next_poll_comes_at_once_even_at_the_longest_backoff() -> None:
    longest = len(BACKOFF) - 1
    assert wait_after_poll(longest, failed_polls=0) == BACKOFF[-1]
    assert wait_after_poll(longest, failed_polls=1) == RECHECK_AFTER_FAILURE
    assert wait_after_poll(longest, failed_polls=2) == BACKOFF[-1], "a confirmed outage is not hammered"
    assert wait_after_poll(0, failed_polls=1) == BACKOFF[0]


def test_an_idle_agent_reports_a_dead_backend_within_three_poll_intervals() -> None:
    """The worst case, played on the loop's own rules: the backend dies just after a good
    poll of an idle agent (waiting the longest backoff); each failed poll takes the API
    client's retries (about 4 s against a closed port)."""
    retries = 4.0
    health, now, index = healthy_agent(), 0.0, len(BACKOFF) - 1
    while health.report(now).healthy:
        now += wait_after_poll(index, health.failed_polls) + retries
        health.poll_failed("refused")
        index = min(index + 1, len(BACKOFF) - 1)
    assert now <= 3 * BACKOFF[-1], now


def test_a_fresh_agent_reports_unchecked_not_unreachable_until_a_check_fails() -> None:
    health = AgentHealth(backend=BACKEND)
    fresh = health.report(now=0.0)
    assert not fresh.healthy
    assert fresh.details["daemon"] == "unchecked" and fresh.details["backend"] == "unchecked"
    health.daemon_failed("the Docker daemon is unreachable: TLS handshake failed")
    health.poll_failed("refused")
    failed = health.report(now=1.0)
    assert failed.details["daemon"] == "unreachable" and failed.details["backend"] == "unreachable"
    assert "TLS handshake failed" in failed.reasons[0]
