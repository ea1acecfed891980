"""gslb-dump against real LMDB environments written by gslb-testfill.

Covers: text and --json output show what was written (incl. effective backend
status and the DS record, checked against dnspython), secrets only with
--secrets, reading while another process writes, undecodable records (exit 2),
and damaged or missing environments (clean error, exit > 0, never a signal).
"""
import base64
import json
import os
import select
import shutil
import subprocess
import time

import dns.dnssec
import dns.name
import dns.rdata
import pytest

from harness import DUMP, TESTFILL

ZONE = "gslb.example.com"
WEB = "webapp." + ZONE


def run_dump(*args, timeout=20):
    return subprocess.run([DUMP, *args], capture_output=True, text=True, timeout=timeout)


def fill(data_dir, *extra):
    r = subprocess.run([TESTFILL, str(data_dir), *extra], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    return data_dir


@pytest.fixture
def env_dir(tmp_path):
    return fill(tmp_path / "data")


def section(text, table):
    """The lines of one table of the text output (title line first)."""
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0].split()[0] == table:
            return lines
    raise AssertionError(f"no table {table} in output")


def assert_clean_failure(r):
    assert r.returncode > 0, (r.returncode, r.stderr)  # > 0: an exit, not a signal
    assert "gslb-dump:" in r.stderr
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr


def test_help_version_and_usage():
    r = run_dump("--help")
    assert r.returncode == 0 and "--data-dir" in r.stdout and "dnssec_keys" in r.stdout
    r = run_dump("--version")
    assert r.returncode == 0 and r.stdout.startswith("gslb-dump ")
    r = run_dump("--data-dir", "/nonexistent", "no_such_table")
    assert r.returncode == 64 and "unknown table" in r.stderr


def test_text_output_shows_written_records(env_dir):
    r = run_dump("--data-dir", str(env_dir))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for table in ("meta", "zones (1)", "domains (2)", "backends (4)", "agents (1)",
                  "dnssec_keys (1)", "overrides (1)", "audit (1)"):
        assert table in out
    assert "answers (" not in out  # not part of the default set
    backends = section(out, "backends")
    lines = {line.split()[1]: line for line in backends if line.startswith("  " + WEB + " ")}
    assert "healthy" in lines["10.0.1.10"].split()
    assert "override_down" in lines["10.0.2.10"]
    assert "unhealthy" in lines["2001:db8::10"].split()
    assert "s ago" in lines["10.0.1.10"]
    assert "testfill" in out  # node id in meta
    assert "ns1.gslb.example.com (192.0.2.53 2001:db8::53)" in out
    assert "(hidden; --secrets shows it)" in out
    # columns are aligned: the header and every backend row put ADDRESS at one offset
    header = backends[1]
    assert header.split()[:3] == ["DOMAIN", "ADDRESS", "PORT"]
    col = header.index("ADDRESS")
    for line in lines.values():
        assert line[col - 1] == " " and line[col] != " "


def test_json_output_and_ds_record(env_dir):
    r = run_dump("--json", "--data-dir", str(env_dir))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["meta"]["schema_version"] == 1
    assert doc["meta"]["node_id"] == "testfill"
    assert [z["zone"] for z in doc["zones"]] == [ZONE]
    status = {(b["domain"], b["address"]): b for b in doc["backends"]}
    assert status[(WEB, "10.0.1.10")]["status"] == "healthy"
    assert status[(WEB, "10.0.2.10")]["status"] == "override_down"
    assert status[(WEB, "10.0.2.10")]["stale"] is True
    assert status[(WEB, "2001:db8::10")]["status"] == "unhealthy"
    assert status[("api." + ZONE, "10.0.3.10")]["source"] == "config"
    assert status[(WEB, "10.0.1.10")]["last_seen_age_s"] < 3600
    assert doc["overrides"][0]["state"] == "down"
    assert doc["audit"][0]["action"] == "override.put"

    key = doc["dnssec_keys"][0]
    assert "private_key" not in key and key["private_key_present"] is True
    dnskey = dns.rdata.from_text("IN", "DNSKEY",
                                 f"{key['flags']} 3 {key['algorithm']} {key['public_key']}")
    assert dns.dnssec.key_id(dnskey) == key["key_tag"]
    ds = dns.dnssec.make_ds(dns.name.from_text(ZONE), dnskey, "SHA256")
    tag, alg, digest_type, digest = key["ds"].split()
    assert (int(tag), int(alg), int(digest_type)) == (ds.key_tag, ds.algorithm, 2)
    assert digest.lower() == ds.digest.hex()


def test_secrets_and_answers_only_when_asked(env_dir):
    r = run_dump("--json", "--secrets", "--data-dir", str(env_dir), "dnssec_keys", "answers")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"dnssec_keys", "answers"}
    assert len(base64.b64decode(doc["dnssec_keys"][0]["private_key"])) == 138
    sets = {(a["name"], a["qtype"]): a for a in doc["answers"]}
    web_a = sets[(WEB, "A")]
    assert web_a["kind"] == "gslb"
    healthy = {c["address"]: c["healthy"] for c in web_a["candidates"]}
    assert healthy == {"10.0.1.10": True, "10.0.2.10": False}
    assert sets[(WEB, "AAAA")]["healthy_count"] == 0
    assert sets[(ZONE, "SOA")]["neg_ttl"] == 60
    assert sets[(ZONE, "NODE")]["info"] == ["apex"]
    # the compiled signing key carries the same private key as dnssec_keys
    signing = sets[(ZONE, "SIGNING_KEYS")]
    assert signing["kind"] == "signing_keys"
    [key] = signing["keys"]
    assert key["key_tag"] == doc["dnssec_keys"][0]["key_tag"]
    assert key["public_key"] == doc["dnssec_keys"][0]["public_key"]
    assert key["private_key"] == doc["dnssec_keys"][0]["private_key"]


def test_compiled_signing_keys_hide_the_private_key_without_secrets(env_dir):
    r = run_dump("--json", "--secrets", "--data-dir", str(env_dir), "dnssec_keys")
    secret = json.loads(r.stdout)["dnssec_keys"][0]["private_key"]
    r = run_dump("--json", "--data-dir", str(env_dir), "answers")
    assert r.returncode == 0, r.stderr
    [signing] = [a for a in json.loads(r.stdout)["answers"] if a["qtype"] == "SIGNING_KEYS"]
    [key] = signing["keys"]
    assert "private_key" not in key and key["private_key_present"] is True
    assert secret not in r.stdout
    r = run_dump("--data-dir", str(env_dir), "answers")
    assert r.returncode == 0, r.stderr
    lines = section(r.stdout, "answers")
    at = [i for i, line in enumerate(lines) if " SIGNING_KEYS " in line]
    assert len(at) == 1 and "signing_keys" in lines[at[0]]
    assert "private_key: (hidden; --secrets shows it)" in lines[at[0] + 1:at[0] + 4][-1]
    assert secret not in r.stdout


def wait_ready(proc, deadline_s=20):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.strip() == "ready":
                return
        assert proc.poll() is None, proc.stderr.read()
    raise AssertionError("gslb-testfill did not become ready")


def test_reads_while_another_process_writes(tmp_path):
    data_dir = tmp_path / "live"
    proc = subprocess.Popen([TESTFILL, str(data_dir), "--hold", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(proc)
        txnids = []
        for _ in range(5):
            r = run_dump("--json", "--data-dir", str(data_dir), "meta", "backends", "answers")
            assert r.returncode == 0, r.stderr
            doc = json.loads(r.stdout)
            txnids.append(doc["meta"]["last_txnid"])
            web = [b for b in doc["backends"] if b["address"] == "10.0.1.10"][0]
            assert 1000 <= web["latency_us"] < 2000  # written by the live writer
            cands = [a for a in doc["answers"] if a["name"] == WEB and a["qtype"] == "A"][0]
            lat = {c["address"]: c["latency_us"] for c in cands["candidates"]}
            assert 1000 <= lat["10.0.1.10"] < 2000
            time.sleep(0.05)
        assert txnids == sorted(txnids) and txnids[-1] > txnids[0]
        assert proc.poll() is None  # the writer is unharmed
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr.read()


def test_undecodable_records_exit_2(tmp_path):
    data_dir = fill(tmp_path / "bad", "--garbage")
    r = run_dump("--data-dir", str(data_dir))
    assert r.returncode == 2, r.stderr
    assert "<undecodable: malformed or truncated data>" in r.stdout
    assert "<undecodable: unsupported version>" in r.stdout
    assert "webapp.gslb.example.com" in r.stdout  # the good records are still shown
    r = run_dump("--json", "--data-dir", str(data_dir), "domains")
    assert r.returncode == 2
    errors = [d for d in json.loads(r.stdout)["domains"] if "error" in d]
    assert errors == [{"key": "broken." + ZONE,
                       "error": "<undecodable: malformed or truncated data>"}]


def test_missing_environment(tmp_path):
    r = run_dump("--data-dir", str(tmp_path / "nothing"))
    assert_clean_failure(r)
    assert str(tmp_path / "nothing") in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_dump("--data-dir", str(empty))
    assert_clean_failure(r)
    assert "data.mdb" in r.stderr


def damaged_copy(src, dst, damage):
    dst.mkdir()
    shutil.copy(src / "data.mdb", dst / "data.mdb")
    path = dst / "data.mdb"
    size = path.stat().st_size
    with open(path, "r+b") as f:
        damage(f, size)
    return dst


DAMAGES = {
    "empty": lambda f, size: f.truncate(0),
    "half": lambda f, size: f.truncate(size // 2),
    "one_page": lambda f, size: f.truncate(4096),
    "garbage_meta": lambda f, size: (f.seek(0), f.write(os.urandom(8192))),
    "zero_pages": lambda f, size: (f.seek(3 * 4096), f.write(bytes(size - 3 * 4096))),
    "garbage_tail": lambda f, size: (f.seek(2 * 4096), f.write(os.urandom(size - 2 * 4096))),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_environment_is_an_error_not_a_crash(env_dir, tmp_path, damage):
    copy = damaged_copy(env_dir, tmp_path / ("copy_" + damage), DAMAGES[damage])
    r = run_dump("--json", "--data-dir", str(copy), "meta", "zones", "domains", "backends",
                 "agents", "dnssec_keys", "overrides", "audit", "answers")
    assert_clean_failure(r)
