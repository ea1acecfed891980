"""pytest hooks of the system tests (harness.py): whatever a test (or a module's fixtures)
left running is stopped by PID, and a failed test's report shows the logs of its processes."""
import pytest

import harness


@pytest.fixture(autouse=True, scope="module")
def _stop_module_leftovers():
    mark = harness.children_mark()
    yield
    harness.stop_children_since(mark)


@pytest.fixture(autouse=True)
def _stop_test_leftovers():
    mark = harness.children_mark()
    yield
    harness.stop_children_since(mark)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    item.harness_mark = harness.children_mark()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        mark = getattr(item, "harness_mark", 0)
        for title, text in harness.failure_logs(mark):
            report.sections.append((f"log of {title}", text))
