"""Crash safety (tests/tools/crash_loop.py, also scripts/crash-loop.sh): kill -9 the overwatch
during API override writes and gossip, 20 times, and require no corrupted environment and no
lost acknowledged write; the time to the first DNS answer after each restart is reported."""
import os
import sys

from harness import API_TOKEN, default_overwatch, json_of

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crash_loop  # noqa: E402

ITERATIONS = int(os.environ.get("GSLB_CRASH_LOOP_N", "20"))


def test_kill_9_during_writes_loses_nothing(tmp_path):
    stats = crash_loop.run_crash_loop(ITERATIONS, tmp_path, seed=16)
    lines = crash_loop.summary_lines(stats)
    print("\n".join(lines))
    assert stats["iterations"] == ITERATIONS
    assert stats["corrupted"] == 0, stats["problems"]
    assert stats["lost"] == 0, stats["problems"]
    assert stats["errors"] == 0, stats["problems"]
    assert stats["acked"] >= ITERATIONS * 10, lines  # the load did write
    assert len(stats["first_answer"]) == ITERATIONS + 1
    assert max(stats["first_answer"]) < 10, lines


def test_the_check_sees_a_lost_write(tmp_path):
    """check_writes() reports an acknowledged write that is not in the store, and accepts the
    write that was in flight at the kill."""
    ow = default_overwatch(tmp_path, crash_loop.crash_config).start()
    try:
        keys = {a: crash_loop.KeyState() for a in crash_loop.ADDRESSES}
        a, b = crash_loop.ADDRESSES[:2]
        json_of(ow.request("PUT", f"/api/v1/overrides/webapp/{a}", token=API_TOKEN,
                           body={"state": "drain", "reason": "r1"}), 200)
        keys[a].acked = ("drain", "r1")
        keys[b].inflight = [("down", "never sent")]
        assert crash_loop.check_writes(ow, keys) == []
        keys[b].acked = ("down", "acknowledged but absent")
        lost = crash_loop.check_writes(ow, keys)
        assert len(lost) == 1 and lost[0].startswith(b), lost
    finally:
        ow.stop_clean()
