"""Agents gossiping to overwatches, all real processes on loopback.

Covers: a backend stopped/started behind one agent disappears from / returns to
the answers of two overwatches within the probe interval + 1 s; wrong key,
unknown token, replayed datagram and random bytes change nothing and are
counted by reason in /metrics while DNS keeps answering; SIGKILL makes the
agent's backends stale after overwatch.stale.threshold, SIGTERM drains them at
once; a gossip partition (the seed's HA Test 2) makes only the cut-off
overwatch stale; a message too large for one datagram goes over TCP; the
seed's agent snippet passes --check-config with its notes.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from harness import (AGENT_TOKEN, AGENT_TOKEN_NAME, AGENTD, GOSSIP_KEY, GOSSIP_LOAD, WEB, Agent,
                     Backend, Overwatch, UdpRelay, free_port, wait_until)

PROBE_INTERVAL = 0.3  # agent_config(): interval 300ms, failure_threshold 1
STATIC = "127.0.0.99"  # a config backend: keeps the healthy set non-empty


def overwatch(tmp_path, name, stale="2s", remove_after="60s", validation=False):
    """An overwatch with gossip (the harness's key and agent token), DNS and metrics; API off."""
    def config(ow):
        zone = WEB.split(".", 1)[1]
        return {
            "mode": "overwatch",
            "overwatch": {
                "identity": {"node_id": name, "region": "us-east"},
                "agent_tokens": {AGENT_TOKEN_NAME: AGENT_TOKEN, "api": "test-api-token"},
                "gossip": {"bind_address": f"127.0.0.1:{ow.ports['gossip']}",
                           "encryption_key": GOSSIP_KEY, "max_clock_skew": "5s"},
                "dnssec": {"enabled": False},
                "stale": {"threshold": stale, "remove_after": remove_after},
                "validation": {"enabled": validation, "check_interval": "500ms",
                               "check_timeout": "300ms"},
                "data_dir": str(ow.data_dir),
            },
            "storage": {"map_size": "64MiB"},
            "dns": {"listen_address": f"127.0.0.1:{ow.port}", "workers": 1,
                    "zones": [{"name": zone, "ns": [f"ns1.{zone}"],
                               "ns_addresses": {f"ns1.{zone}": ["127.0.0.1"]}}]},
            "api": {"enabled": False},
            "metrics": {"address": f"127.0.0.1:{ow.ports['metrics']}"},
            "logging": {"level": "debug"},
            "regions": [{"name": "us-east",
                         "servers": [{"address": STATIC, "service": "webapp"}]}],
            "domains": [{"name": WEB, "regions": ["us-east"]}],
        }
    return Overwatch(tmp_path / name, config, ports=("dns", "gossip", "metrics"),
                     ready=("metrics", "dns"))


def gossip(ow, result):
    """opengslb_gossip_messages_total{result} (0 when absent)."""
    return ow.metric("opengslb_gossip_messages_total", result=result) or 0.0


def run_load(*args, timeout=30):
    return subprocess.run([GOSSIP_LOAD, *args], capture_output=True, text=True, timeout=timeout)


def timed_wait(predicate, timeout, what):
    """Seconds until predicate() held (wait_until from now)."""
    start = time.monotonic()
    wait_until(predicate, timeout, what=what)
    return time.monotonic() - start


def served(ow, address):
    answer = ow.a_records(WEB)
    return answer is not None and address in answer


def not_served(ow, address):
    answer = ow.a_records(WEB)
    return answer is not None and address not in answer


@pytest.fixture
def cleanup():
    """Things a test started, stopped in reverse order (each by PID; a sanitizer report in a
    process log fails the test)."""
    things = []
    yield things
    problems = []
    for t in reversed(things):
        try:
            t.close() if isinstance(t, UdpRelay) else t.stop()
        except AssertionError as e:
            problems.append(str(e))
    assert not problems, "\n".join(problems)


def start(cleanup, thing):
    cleanup.append(thing)
    return thing.start() if not isinstance(thing, UdpRelay) else thing


def test_backend_down_and_up_reaches_both_overwatches(tmp_path, cleanup):
    ow1 = start(cleanup, overwatch(tmp_path, "ow1"))
    ow2 = start(cleanup, overwatch(tmp_path, "ow2"))
    b1 = start(cleanup, Backend("127.0.0.2"))
    start(cleanup, Backend("127.0.0.3"))
    start(cleanup, Agent(tmp_path, "agent-1",
                         [("127.0.0.2", b1.port), ("127.0.0.3", cleanup[-1].port)],
                         [ow1.ports["gossip"], ow2.ports["gossip"]]))
    want = {STATIC, "127.0.0.2", "127.0.0.3"}
    for ow in (ow1, ow2):
        wait_until(lambda: ow.a_records(WEB) == want, 5, what=f"{ow.name} full answer")

    b1.stop()
    took = timed_wait(lambda: not_served(ow1, "127.0.0.2") and not_served(ow2, "127.0.0.2"),
                      5, what="stopped backend to leave both answers")
    assert took <= PROBE_INTERVAL + 1.0, took
    assert ow1.a_records(WEB) == {STATIC, "127.0.0.3"}

    b1.start()
    took = timed_wait(lambda: served(ow1, "127.0.0.2") and served(ow2, "127.0.0.2"), 5,
                      what="restarted backend to come back")
    assert took <= PROBE_INTERVAL + 1.0, took


def test_rejected_messages_change_nothing(tmp_path, cleanup):
    ow = start(cleanup, overwatch(tmp_path, "ow1"))
    relay = start(cleanup, UdpRelay(ow.ports["gossip"]))
    b = start(cleanup, Backend("127.0.0.2"))
    agent = start(cleanup, Agent(tmp_path, "agent-1", [("127.0.0.2", b.port)], [relay.port],
                                 heartbeat="5s"))
    wait_until(lambda: served(ow, "127.0.0.2"), 5, what="agent backend")
    wait_until(lambda: gossip(ow, "accepted") >= 1, 5, what="accepted counter")
    agent.stop(signal.SIGKILL)  # no more heartbeats: the state below must stay as it is
    before = {r: gossip(ow, r) for r in ("accepted", "decrypt_failed", "unknown_token",
                                        "replayed", "bad_version", "bad_length")}
    answer = ow.a_records(WEB)

    target = f"127.0.0.1:{ow.ports['gossip']}"
    other_key = "A" * 43 + "="  # 32 zero bytes: not the overwatches' key
    # wrong key: claims 127.0.0.2 is unhealthy
    r = run_load("--target", target, "--key", other_key, "--token-name", AGENT_TOKEN_NAME,
                 "--token", AGENT_TOKEN, "--agents", "1", "--backends", "1", "--count", "3")
    assert r.returncode == 0, r.stderr
    # unknown token name, and the right name with a wrong value
    for name, value in (("nosuch", AGENT_TOKEN), (AGENT_TOKEN_NAME, AGENT_TOKEN + "x")):
        r = run_load("--target", target, "--key", GOSSIP_KEY, "--token-name", name,
                     "--token", value, "--agents", "1", "--backends", "1", "--count", "2")
        assert r.returncode == 0, r.stderr
    # the agent's own datagram again (replay), random bytes, a short datagram
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for data in (relay.seen[-1], relay.seen[0], os.urandom(200), b"OG\x01\x00" + os.urandom(100),
                 b"xx"):
        s.sendto(data, ("127.0.0.1", ow.ports["gossip"]))
    s.close()

    want = {"decrypt_failed": 4, "unknown_token": 4, "replayed": 2, "bad_version": 1,
            "bad_length": 1}
    wait_until(lambda: all(gossip(ow, k) >= before[k] + v for k, v in want.items()), 5,
                 what="rejection counters")
    # decrypt_failed: 3 wrong-key + the "OG" header with random bytes
    for k, v in want.items():
        assert gossip(ow, k) == before[k] + v, (k, gossip(ow, k), before[k])
    assert gossip(ow, "accepted") == before["accepted"]
    assert ow.a_records(WEB) == answer
    assert ow.alive()


def test_sigkill_goes_stale_after_threshold_and_sigterm_drains(tmp_path, cleanup):
    ow = start(cleanup, overwatch(tmp_path, "ow1", stale="2s"))
    b2 = start(cleanup, Backend("127.0.0.2"))
    b3 = start(cleanup, Backend("127.0.0.3"))
    killed = start(cleanup, Agent(tmp_path, "agent-k", [("127.0.0.2", b2.port)],
                                  [ow.ports["gossip"]], heartbeat="300ms"))
    termed = start(cleanup, Agent(tmp_path, "agent-t", [("127.0.0.3", b3.port)],
                                  [ow.ports["gossip"]], heartbeat="300ms"))
    wait_until(lambda: served(ow, "127.0.0.2") and served(ow, "127.0.0.3"), 5,
                 what="both agents' backends")

    killed.stop(signal.SIGKILL)
    t0 = time.monotonic()
    assert served(ow, "127.0.0.2")  # silence alone is not a failure yet
    wait_until(lambda: not_served(ow, "127.0.0.2"), 5, what="stale backend to go")
    took = time.monotonic() - t0
    # heartbeat 0.3 s, threshold 2 s, sweeper tick 0.5 s
    assert 2.0 - 0.3 - 0.1 <= took <= 2.0 + 0.5 + 1.0, took
    assert ow.metric("opengslb_overwatch_agents_stale") == 1

    assert termed.stop(signal.SIGTERM) == 0
    took = timed_wait(lambda: not_served(ow, "127.0.0.3"), 2, what="goodbye drain")
    assert took < 1.0, took  # at once: one gossip tick, far below the 2 s threshold
    assert "said goodbye" in ow.log()
    assert ow.a_records(WEB) == {STATIC}


def test_partition_makes_only_the_cut_off_overwatch_stale(tmp_path, cleanup):
    """The seed's HA Test 2: gossip to one overwatch is blocked."""
    ow1 = start(cleanup, overwatch(tmp_path, "ow1", stale="2s"))
    ow2 = start(cleanup, overwatch(tmp_path, "ow2", stale="2s"))
    relay = start(cleanup, UdpRelay(ow2.ports["gossip"]))
    b = start(cleanup, Backend("127.0.0.2"))
    start(cleanup, Agent(tmp_path, "agent-1", [("127.0.0.2", b.port)],
                         [ow1.ports["gossip"], relay.port], heartbeat="300ms"))
    for ow in (ow1, ow2):
        wait_until(lambda: served(ow, "127.0.0.2"), 5, what=f"{ow.name} serving")

    relay.cut()
    wait_until(lambda: not_served(ow2, "127.0.0.2"), 5, what="cut-off overwatch stale")
    assert ow2.metric("opengslb_overwatch_agents_stale") == 1
    # DNS still works on both, and the other overwatch keeps the agent's backend
    assert ow2.a_records(WEB) == {STATIC}
    assert served(ow1, "127.0.0.2")
    assert ow1.metric("opengslb_overwatch_agents_stale") == 0
    accepted = gossip(ow1, "accepted")
    wait_until(lambda: gossip(ow1, "accepted") > accepted, 3, what="ow1 still hears the agent")

    relay.heal()
    wait_until(lambda: served(ow2, "127.0.0.2"), 5, what="healed overwatch serving again")


def test_large_message_goes_over_tcp(tmp_path, cleanup):
    ow = start(cleanup, overwatch(tmp_path, "ow1"))
    port = free_port("0.0.0.0")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(128)
    try:
        addrs = [f"127.0.1.{i}" for i in range(1, 81)]  # 80 backends: > one datagram
        start(cleanup, Agent(tmp_path, "agent-big", [(a, port) for a in addrs],
                             [ow.ports["gossip"]], check="tcp"))
        wait_until(lambda: set(addrs) <= (ow.a_records(WEB) or set()), 5,
                     what="80 backends over TCP")
        assert "gossip: TCP connection from 127.0.0.1" in ow.log()
        assert "TCP" not in cleanup[-1].log()  # no TCP send error was logged
    finally:
        listener.close()


def test_unreachable_overwatch_does_not_slow_the_others(tmp_path, cleanup):
    ow = start(cleanup, overwatch(tmp_path, "ow1"))
    dead = free_port()  # nothing listens here: ICMP port unreachable
    b = start(cleanup, Backend("127.0.0.2"))
    agent = start(cleanup, Agent(tmp_path, "agent-1", [("127.0.0.2", b.port)],
                                 [dead, ow.ports["gossip"]], heartbeat="200ms"))
    wait_until(lambda: served(ow, "127.0.0.2"), 3, what="backend via the reachable overwatch")
    line = f"overwatch 127.0.0.1:{dead} unreachable"
    wait_until(lambda: line in agent.log(), 3, what="unreachable logged")
    accepted = gossip(ow, "accepted")
    wait_until(lambda: gossip(ow, "accepted") >= accepted + 5, 3, what="five more heartbeats")
    assert agent.log().count(line) == 1  # a state change is logged once
    b.stop()  # a change still reaches the live overwatch at once
    took = timed_wait(lambda: not_served(ow, "127.0.0.2"), 3, what="change to arrive")
    assert took <= PROBE_INTERVAL + 1.0


def test_agent_cli_and_seed_snippet():
    seed = os.path.join(os.environ["GSLB_FIXTURES"], "seed", "agent.yaml")
    env = dict(os.environ, GOSSIP_KEY=GOSSIP_KEY)
    r = subprocess.run([AGENTD, "--check-config", seed], capture_output=True, text=True,
                       env=env, timeout=10)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout and "3 overwatch(es)" in r.stdout
    assert "note: agent.backends: none defined" in r.stdout
    env.pop("GOSSIP_KEY")
    r = subprocess.run([AGENTD, "--check-config", seed], capture_output=True, text=True,
                       env=env, timeout=10)
    assert r.returncode == 1 and "agent.yaml:4:" in r.stderr and "GOSSIP_KEY" in r.stderr
    for args, code, text in ((["--help"], 0, "--check-config"), (["--version"], 0, "gslb-agentd"),
                             (["--bogus"], 2, "usage")):
        r = subprocess.run([AGENTD, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == code and text in (r.stdout + r.stderr)
