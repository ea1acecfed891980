"""Hostile gossip against a real overwatch on loopback (issue 16, gossip items).

Covers: a message under another service's token naming a real agent neither deletes nor
drains its backends nor poisons its replay window (the agent keeps being accepted, also
after a restart), and is counted as agent_token_mismatch; an absurd sequence from the right
token is counted as sequence_ahead and leaves the window alone; rejected messages are logged
once per source and reason with no token value, registration and health transitions are
logged; timestamps at the int64 extremes are stale_timestamp and the overwatch lives on; a
configured backend that an agent reported comes back in DNS when the sweeper removes the
agent; a garbage flood from one source is rate_limited before decryption while an agent on
another source address is still accepted.

Messages are built here (plaintext layout of docs/gossip-protocol.md, sealed with AES-GCM).
"""
import base64
import os
import signal
import socket
import struct
import time

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness import (AGENT_TOKEN, AGENT_TOKEN_NAME, GOSSIP_KEY, WEB, Agent, Backend, Overwatch,
                     wait_until)

STATIC = "127.0.0.99"  # a configured backend (port 80)
BILLING_TOKEN = "test-billing-token"
U64_MAX = 2**64 - 1


def overwatch(tmp_path, name="ow", stale="2s", remove_after="60s", gossip_extra=None):
    """An overwatch with two agent tokens (webapp, billing), DNS, gossip and metrics."""
    def config(ow):
        zone = WEB.split(".", 1)[1]
        gossip = {"bind_address": f"127.0.0.1:{ow.ports['gossip']}",
                  "encryption_key": GOSSIP_KEY, "max_clock_skew": "5s"}
        gossip.update(gossip_extra or {})
        return {
            "mode": "overwatch",
            "overwatch": {
                "identity": {"node_id": name, "region": "us-east"},
                "agent_tokens": {AGENT_TOKEN_NAME: AGENT_TOKEN, "billing": BILLING_TOKEN},
                "gossip": gossip,
                "dnssec": {"enabled": False},
                "stale": {"threshold": stale, "remove_after": remove_after},
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
            "domains": [{"name": WEB, "regions": ["us-east"]},
                        {"name": "billing." + zone, "regions": ["us-east"]}],
        }
    return Overwatch(tmp_path / name, config, ports=("dns", "gossip", "metrics"),
                     ready=("metrics", "dns"))


# ---- messages --------------------------------------------------------------------------------

def _s8(text):
    b = text.encode()
    return struct.pack("!B", len(b)) + b


def plaintext(agent, seq, token_name=AGENT_TOKEN_NAME, token=AGENT_TOKEN, backends=(),
              kind=1, ts=None, region="us-east"):
    """backends: (service, IPv4 address, port, health 1|2)."""
    ts = int(time.time() * 1000) if ts is None else ts
    out = struct.pack("!BBHQq", 1, kind, 0, seq, ts)
    tb = token.encode()
    out += _s8(agent) + _s8(region) + _s8(token_name) + struct.pack("!H", len(tb)) + tb
    out += struct.pack("!H", len(backends))
    for service, addr, port, health in backends:
        out += _s8(service) + struct.pack("!B", 4) + socket.inet_aton(addr)
        out += struct.pack("!HIBI", port, 100, health, 500)
    return out


def seal(pt, key=GOSSIP_KEY):
    header = b"OG\x01\x00"
    nonce = os.urandom(12)
    return header + nonce + AESGCM(base64.b64decode(key)).encrypt(nonce, pt, header)


def send(ow, data, source="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.sendto(data, ("127.0.0.1", ow.ports["gossip"]))


def now_seq():
    return int(time.time() * 1_000_000)


def result(ow, name):
    return ow.metric("opengslb_gossip_messages_total", result=name) or 0.0


def served(ow, address):
    answer = ow.a_records(WEB)
    return answer is not None and address in answer


def wait_result(ow, name, at_least, what=None):
    wait_until(lambda: result(ow, name) >= at_least, 5, what=what or f"{name} >= {at_least}")


@pytest.fixture
def procs():
    things = []
    yield things
    for t in reversed(things):
        t.stop()


def start(procs, thing):
    procs.append(thing)
    return thing.start()


# ---- item 2: agent identity is tied to its token ---------------------------------------------

def test_foreign_token_cannot_touch_an_agent(tmp_path, procs):
    ow = start(procs, overwatch(tmp_path))
    b = start(procs, Backend("127.0.0.2"))
    agent = start(procs, Agent(tmp_path, "victim-web", [("127.0.0.2", b.port)],
                               [ow.ports["gossip"]]))
    wait_until(lambda: served(ow, "127.0.0.2"), 5, what="the victim's backend")
    # the billing token holder names the victim, with the largest sequence, then says goodbye
    send(ow, seal(plaintext("victim-web", U64_MAX, "billing", BILLING_TOKEN,
                            [("billing", "127.0.0.3", 80, 1)])))
    send(ow, seal(plaintext("victim-web", now_seq(), "billing", BILLING_TOKEN, kind=2)))
    accepted = result(ow, "accepted")
    time.sleep(1.2)  # two of the victim's heartbeats
    assert served(ow, "127.0.0.2")
    assert result(ow, "replayed") == 0
    assert result(ow, "accepted") >= accepted + 1
    assert result(ow, "agent_token_mismatch") == 2
    # a restarted victim is accepted too
    agent.stop(signal.SIGKILL)
    agent.start()
    accepted = result(ow, "accepted")
    wait_result(ow, "accepted", accepted + 1, "the restarted victim accepted")
    assert served(ow, "127.0.0.2")
    assert result(ow, "replayed") == 0


def test_absurd_sequence_is_refused(tmp_path, procs):
    ow = start(procs, overwatch(tmp_path))
    backends = [("webapp", "127.0.0.4", 80, 1)]
    send(ow, seal(plaintext("py-agent", now_seq(), backends=backends)))
    wait_until(lambda: served(ow, "127.0.0.4"), 5, what="py-agent's backend")
    send(ow, seal(plaintext("py-agent", U64_MAX, backends=[("webapp", "127.0.0.4", 80, 1)])))
    send(ow, seal(plaintext("py-agent", now_seq(), backends=[("webapp", "127.0.0.4", 80, 2)])))
    wait_until(lambda: not served(ow, "127.0.0.4"), 5, what="the next real message applied")
    assert result(ow, "replayed") == 0
    assert result(ow, "sequence_ahead") == 1


# ---- item 9: rejected agents are visible -------------------------------------------------------

def test_rejections_registration_and_transitions_are_logged(tmp_path, procs):
    ow = start(procs, overwatch(tmp_path))
    mark = len(ow.log())
    wrong_key = base64.b64encode(bytes(32)).decode()
    for _ in range(5):
        send(ow, seal(plaintext("agent-w", now_seq()), key=wrong_key), "127.0.0.5")
        send(ow, seal(plaintext("agent-w", now_seq(), token="not-the-token")), "127.0.0.6")
    wait_result(ow, "unknown_token", 5)
    wait_result(ow, "decrypt_failed", 5)
    b = start(procs, Backend("127.0.0.2"))
    start(procs, Agent(tmp_path, "agent-r", [("127.0.0.2", b.port)], [ow.ports["gossip"]]))
    ow.wait_log('gossip: agent agent-r registered: token "webapp", region us-east, '
                'from 127.0.0.1', mark)
    b.stop()
    ow.wait_log(f"127.0.0.2:{b.port} healthy -> unhealthy (agent agent-r)", mark)
    log = ow.log()[mark:]
    assert log.count("gossip: rejected a message from 127.0.0.5: decrypt_failed") == 1, log
    assert log.count('gossip: rejected a message from 127.0.0.6: unknown_token (agent agent-w, '
                     'token name "webapp"') == 1, log
    assert "not-the-token" not in log and AGENT_TOKEN not in log


# ---- item 10: timestamps at the int64 extremes -------------------------------------------------

def test_extreme_timestamps_are_stale(tmp_path, procs):
    ow = start(procs, overwatch(tmp_path))
    for ts in (-2**63, 2**63 - 1, 0):
        send(ow, seal(plaintext("agent-t", now_seq(), ts=ts)))
    wait_result(ow, "stale_timestamp", 3)
    assert ow.alive()
    assert ow.a_records(WEB) == {STATIC}


# ---- item 12: a configured backend outlives the agent that reported it --------------------------

def test_configured_backend_returns_when_its_agent_is_removed(tmp_path, procs):
    ow = start(procs, overwatch(tmp_path, stale="1s", remove_after="2s"))
    assert served(ow, STATIC)
    send(ow, seal(plaintext("agent-c", now_seq(), backends=[("webapp", STATIC, 80, 2),
                                                            ("webapp", "127.0.0.4", 80, 1)])))
    wait_until(lambda: not served(ow, STATIC), 5, what="the agent's unhealthy claim")
    # silent: stale after 1 s, removed after 2 s; the configured backend is served again
    wait_until(lambda: ow.metric("opengslb_sweeper_agents_removed_total") == 1, 6,
               what="the agent removed")
    wait_until(lambda: ow.a_records(WEB) == {STATIC}, 3, what="the configured backend back")


# ---- item 15: a garbage flood is rate-limited per source ---------------------------------------

def test_garbage_flood_is_rate_limited_per_source(tmp_path, procs):
    ow = start(procs, overwatch(tmp_path, gossip_extra={"source_rate": 50, "source_burst": 100}))
    junk = b"OG\x01\x00" + os.urandom(200)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.7", 0))
        start_t = time.monotonic()
        for _ in range(15):  # paced, so that the socket buffer does not overflow
            for _ in range(200):
                s.sendto(junk, ("127.0.0.1", ow.ports["gossip"]))
            time.sleep(0.02)
        took = time.monotonic() - start_t
    wait_until(lambda: result(ow, "rate_limited") + result(ow, "decrypt_failed") >= 2000, 5,
               what="the flood counted")
    decrypted = result(ow, "decrypt_failed")
    assert decrypted <= 100 + 50 * (took + 1) + 1, (decrypted, took)
    assert result(ow, "rate_limited") >= 1000
    # an agent on another source address is not affected
    send(ow, seal(plaintext("agent-f", now_seq(), backends=[("webapp", "127.0.0.4", 80, 1)])),
         "127.0.0.8")
    wait_until(lambda: served(ow, "127.0.0.4"), 5, what="the other source's agent")
    log = ow.log()
    assert log.count("gossip: rejected a message from 127.0.0.7: rate_limited") == 1
    assert ow.alive()
