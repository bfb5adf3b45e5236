"""Reliability suites: each module names its SUITE; the session writes their figures."""

import pytest

from tests.reliability import ledger


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    result = yield
    report = result.get_result()
    suite = getattr(item.module, "SUITE", None)
    if suite is None:
        return
    if report.when == "call":
        ledger.outcome(suite, report.passed, report.duration)
    elif report.failed:  # a setup or teardown error fails the test too
        ledger.outcome(suite, False, report.duration)


def pytest_sessionfinish(session, exitstatus):
    path = ledger.write()
    if path is not None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"reliability figures: {path}")
