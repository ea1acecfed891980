"""What an attacker found in the configuration, the answers and the store (issue 16, items
3, 4, 7 and 14), on real gslb-overwatch processes.

Covers:
- item 3: an agent token (even the one named "api") opens no mutating route and not the key
  export; the admin token does not open the export either, only the cluster secret
  (overwatch.dnssec.key_sync.token) does; without api.token mutations are 403 and the start
  logs a warning; the HA guide's config with key_sync peers and no cluster secret fails
  --check-config with file:line:col and the line to add; an api.token equal to an agent token
  fails it too;
- item 4: an operator's override `down` is never served, even as the last backend under the
  default all_unhealthy: return_last_healthy: SERVFAIL when nothing else is left, while the
  API says servable: false; removing the override serves it again;
- item 7: a 0-byte data.mdb and a copy of a real store with a damaged audit page are refused
  at start (non-zero exit, a message naming data.mdb and gslb-dump) and left untouched;
- item 14: a world-writable data directory is refused, a world-readable data.mdb logged; as
  root without overwatch.user a warning; as root with `user: nobody` every thread runs as
  nobody after start (/proc/PID/task/*/status), the data directory is created for nobody,
  data.mdb and lock.mdb are nobody's and 0600, and DNS and API writes keep working; a data
  directory owned by someone else is refused.
"""
import os
import pwd
import shutil
import stat
import subprocess

import dns.rcode
import pytest

from harness import (AGENT_TOKEN, AGENT_TOKEN_NAME, API_TOKEN, OVERWATCH, ZONE, StartError,
                     assert_error, default_config, default_overwatch, json_of)

CLUSTER_TOKEN = "hostile-cluster-secret"
AGENT_API_TOKEN = "hostile-agent-api-token"  # an agent token named like the API
EXPORT = "/api/v1/dnssec/keys/export"
SOLO = "solo." + ZONE
PAIR = "pair." + ZONE
SERVERS = [("127.0.0.50", "us-east", "solo"),
           ("127.0.0.60", "us-east", "pair"), ("127.0.0.61", "us-east", "pair")]
DOMAINS = [("solo", "round-robin"), ("pair", "round-robin")]


def hostile_config(ow, api_token=API_TOKEN, user=None):
    """The default test overwatch plus an agent token named "api", DNSSEC with the cluster
    secret (export over plain HTTP: loopback lab), and the solo/pair domains."""
    c = default_config(ow.ports, ow.data_dir, servers=SERVERS, domains=DOMAINS,
                       api_token=api_token)
    c["overwatch"]["agent_tokens"] = {AGENT_TOKEN_NAME: AGENT_TOKEN, "api": AGENT_API_TOKEN}
    c["overwatch"]["dnssec"] = {"enabled": True,
                                "key_sync": {"token": CLUSTER_TOKEN,
                                             "allow_plaintext_export": True}}
    if user:
        c["overwatch"]["user"] = user
    return c


def start(tmp_path, name="ow", **kw):
    return default_overwatch(tmp_path / name, lambda ow: hostile_config(ow, **kw)).start()


def check_config(path, env=None):
    return subprocess.run([OVERWATCH, "--check-config", str(path)], capture_output=True,
                          text=True, timeout=10, env=env)


# ---- item 3: agent tokens, admin token, cluster secret -------------------------------------

def test_agent_token_cannot_override_reload_or_export(tmp_path):
    ow = start(tmp_path)
    try:
        put = ("PUT", "/api/v1/overrides/solo/127.0.0.50")
        for token in (AGENT_API_TOKEN, AGENT_TOKEN, CLUSTER_TOKEN):
            assert_error(ow.request(*put, token=token, body={"state": "down"}), 401)
            assert_error(ow.request("POST", "/api/v1/reload", token=token), 401)
        for token in (AGENT_API_TOKEN, AGENT_TOKEN, API_TOKEN):  # the admin token neither
            assert_error(ow.request("GET", EXPORT, token=token), 401)
        export = json_of(ow.request("GET", EXPORT, token=CLUSTER_TOKEN), 200)
        assert export["keys"] and all(k["private_key"] for k in export["keys"])
        json_of(ow.request(*put, token=API_TOKEN, body={"state": "drain"}), 200)
    finally:
        ow.stop_clean()


def test_no_admin_token_refuses_mutations_even_to_the_api_agent_token(tmp_path):
    ow = start(tmp_path, api_token=None)
    try:
        assert "no api.token configured: mutating routes are refused" in ow.log()
        body = assert_error(ow.request("PUT", "/api/v1/overrides/solo/127.0.0.50",
                                       token=AGENT_API_TOKEN, body={"state": "down"}), 403)
        assert "api.token" in body["error"]
        assert_error(ow.request("POST", "/api/v1/reload", token=AGENT_API_TOKEN), 403)
        assert_error(ow.request("GET", EXPORT, token=AGENT_API_TOKEN), 401)
    finally:
        ow.stop_clean()


def test_export_refused_without_cluster_secret(tmp_path):
    def config(ow):
        c = hostile_config(ow)
        del c["overwatch"]["dnssec"]["key_sync"]["token"]
        return c
    ow = default_overwatch(tmp_path / "ow", config).start()
    try:
        body = assert_error(ow.request("GET", EXPORT, token=API_TOKEN), 403)
        assert "overwatch.dnssec.key_sync.token" in body["error"]
    finally:
        ow.stop_clean()


def test_guide_config_without_cluster_secret_fails_check_config(tmp_path):
    seed = os.path.join(os.environ["GSLB_FIXTURES"], "seed", "overwatch-2.yaml")
    env = dict(os.environ, WEBAPP_TOKEN="w-" + "1" * 16, API_TOKEN="a-" + "2" * 16,
               GOSSIP_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
               CLUSTER_TOKEN="c-" + "3" * 16)
    r = check_config(seed, env)
    assert r.returncode == 1, r
    assert r.stderr.startswith(f"{seed}:16:7: overwatch.dnssec.key_sync.peers: key sync peers "
                               "need a cluster secret: add overwatch.dnssec.key_sync.token"), \
        r.stderr
    fixed = tmp_path / "overwatch-2.yaml"
    with open(seed) as f:
        fixed.write_text(f.read().replace(
            "    key_sync:\n", '    key_sync:\n      token: "${CLUSTER_TOKEN}"\n'))
    r = check_config(fixed, env)
    assert r.returncode == 0 and "config OK" in r.stdout, r
    # the cluster secret must not be an agent token
    r = check_config(fixed, dict(env, CLUSTER_TOKEN=env["API_TOKEN"]))
    assert r.returncode == 1 and "overwatch.dnssec.key_sync.token: must differ from every " \
        "agent token (it equals overwatch.agent_tokens.api)" in r.stderr, r


def test_admin_token_equal_to_an_agent_token_fails_check_config(tmp_path):
    path = tmp_path / "ow.yaml"
    path.write_text("mode: overwatch\n"
                    "overwatch:\n"
                    "  agent_tokens: {webapp: w-secret-1, api: a-secret-1}\n"
                    "api:\n"
                    "  token: a-secret-1\n")
    r = check_config(path)
    assert r.returncode == 1, r
    assert r.stderr.startswith(f"{path}:5:10: api.token: must differ from every agent token "
                               "(it equals overwatch.agent_tokens.api)"), r.stderr


# ---- item 4: an operator's down is never served --------------------------------------------

def override(ow, service, addr, state):
    json_of(ow.request("PUT", f"/api/v1/overrides/{service}/{addr}", token=API_TOKEN,
                       body={"state": state}), 200)


def servable(ow, addr):
    backends = json_of(ow.get("/api/v1/overwatch/backends"), 200)["backends"]
    return [b["servable"] for b in backends if b["address"] == addr]


def test_operator_down_is_never_served(tmp_path):
    ow = start(tmp_path)
    try:
        assert ow.a_records(SOLO) == {"127.0.0.50"}
        # the last (only) backend taken down: SERVFAIL, not the address
        override(ow, "solo", "127.0.0.50", "down")
        assert servable(ow, "127.0.0.50") == [False]
        for tcp in (False, True):
            r = ow.query(SOLO, "A", tcp=tcp)
            assert r.rcode() == dns.rcode.SERVFAIL and not r.answer, r
        # drain likewise
        override(ow, "solo", "127.0.0.50", "drain")
        assert ow.query(SOLO, "A").rcode() == dns.rcode.SERVFAIL
        # two backends: one down, the other answers; both down: SERVFAIL
        override(ow, "pair", "127.0.0.60", "down")
        assert ow.a_records(PAIR) == {"127.0.0.61"}
        override(ow, "pair", "127.0.0.61", "down")
        assert ow.query(PAIR, "A").rcode() == dns.rcode.SERVFAIL
        # the override removed: served again
        json_of(ow.request("DELETE", "/api/v1/overrides/solo/127.0.0.50", token=API_TOKEN), 200)
        assert ow.a_records(SOLO) == {"127.0.0.50"}
        assert servable(ow, "127.0.0.50") == [True]
        # a restart keeps it so (the answers are recompiled from the stored overrides)
        ow.restart()
        assert ow.query(PAIR, "A").rcode() == dns.rcode.SERVFAIL
        assert ow.a_records(SOLO) == {"127.0.0.50"}
    finally:
        ow.stop_clean()


# ---- item 7: damaged stores -----------------------------------------------------------------

def refused_start(ow):
    with pytest.raises(StartError) as e:
        ow.start(timeout=30)
    return str(e.value)


def test_empty_data_file_is_refused(tmp_path):
    ow = default_overwatch(tmp_path / "ow", lambda ow: hostile_config(ow))
    ow.data_dir.mkdir(mode=0o700, parents=True)
    data = ow.data_dir / "data.mdb"
    data.write_bytes(b"")
    msg = refused_start(ow)
    assert "exited with 1" in msg, msg
    assert f"{data} is damaged: 0 bytes" in msg and "gslb-dump --data-dir" in msg, msg
    assert data.stat().st_size == 0  # not turned into a new store (nor a new DNSSEC key)


def live_leaf_pages(data, needle):
    """Numbers of the 4 KiB LMDB leaf pages of data whose nodes contain needle (the page
    header names its own number; flags at offset 10 with P_LEAF = 2; the nodes lie from
    mp_upper, offset 14, to the end: stale bytes of a reused page lie below it)."""
    blob = data.read_bytes()
    pages = []
    for pg in range(2, len(blob) // 4096):
        page = blob[pg * 4096:(pg + 1) * 4096]
        upper = int.from_bytes(page[14:16], "little")
        if int.from_bytes(page[:8], "little") == pg and page[10] & 2 and \
                needle in page[upper:]:
            pages.append(pg)
    return pages


def test_damaged_audit_page_is_refused(tmp_path):
    ow = start(tmp_path)
    try:
        for i in range(40):  # audit records; only the audit keeps the early reasons
            json_of(ow.request("PUT", "/api/v1/overrides/pair/127.0.0.60", token=API_TOKEN,
                               body={"state": "down", "reason": f"hostile-marker-{i:03d}"}), 200)
        json_of(ow.request("PUT", "/api/v1/overrides/pair/127.0.0.60", token=API_TOKEN,
                           body={"state": "up", "reason": "final"}), 200)
        assert len(json_of(ow.get("/api/v1/audit-logs?limit=100"), 200)["audit_logs"]) >= 41
    finally:
        ow.stop_clean()
    # damage a copy: the page flags of the audit leaves that hold the markers
    copy = default_overwatch(tmp_path / "copy", lambda o: hostile_config(o))
    shutil.copytree(ow.data_dir, copy.data_dir)
    data = copy.data_dir / "data.mdb"
    pages = live_leaf_pages(data, b"hostile-marker-")
    assert pages, "no audit page found"
    with open(data, "r+b") as f:
        for pg in pages:
            f.seek(pg * 4096 + 10)
            f.write(b"\x00\x00")
    before = data.read_bytes()
    msg = refused_start(copy)
    assert "exited with 1" in msg, msg
    assert f"{data} is damaged: sub-database \"audit\"" in msg, msg
    assert f"gslb-dump --data-dir {copy.data_dir}" in msg and "Refusing to start" in msg, msg
    assert data.read_bytes() == before
    # the original store still starts (the check does not reject intact stores)
    ow.start()
    ow.stop_clean()


# ---- item 14: permissions and privileges --------------------------------------------------

def test_world_writable_data_dir_is_refused(tmp_path):
    ow = default_overwatch(tmp_path / "ow", lambda ow: hostile_config(ow))
    ow.data_dir.mkdir(parents=True)
    os.chmod(ow.data_dir, 0o777)
    msg = refused_start(ow)
    assert "world-writable" in msg and "chmod 700" in msg, msg
    assert not (ow.data_dir / "data.mdb").exists()


def test_store_files_private_and_world_readable_warned(tmp_path):
    old = os.umask(0)  # the overwatch sets its own umask: 0600 whatever it inherits
    try:
        ow = start(tmp_path)
    finally:
        os.umask(old)
    try:
        for name in ("data.mdb", "lock.mdb"):
            assert stat.S_IMODE((ow.data_dir / name).stat().st_mode) == 0o600, name
    finally:
        ow.stop_clean()
    os.chmod(ow.data_dir / "data.mdb", 0o644)
    ow.start(keep_ports=True)
    try:
        assert "is world-readable (mode 0644) and holds the DNSSEC private keys" in ow.log()
    finally:
        ow.stop_clean()


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def task_ids(pid, field):
    """The field ("Uid", "Gid") of every thread of pid, as sets of the four ids."""
    out = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    out.add(tuple(int(x) for x in line.split()[1:5]))
    return out


@root_only
def test_root_without_user_warns(tmp_path):
    ow = start(tmp_path)
    try:
        assert "running as root: set overwatch.user" in ow.log()
    finally:
        ow.stop_clean()


@root_only
def test_root_drops_to_user_after_binding(tmp_path):
    nobody = pwd.getpwnam("nobody")
    ow = default_overwatch(tmp_path / "ow", lambda o: hostile_config(o, user="nobody"))
    assert not ow.data_dir.exists()
    ow.start()
    try:
        ids = (nobody.pw_uid,) * 4
        assert task_ids(ow.pid, "Uid") == {ids}, task_ids(ow.pid, "Uid")
        assert task_ids(ow.pid, "Gid") == {(nobody.pw_gid,) * 4}
        assert "switched to user nobody" in ow.log()
        st = ow.data_dir.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (nobody.pw_uid, 0o700)
        for name in ("data.mdb", "lock.mdb"):
            st = (ow.data_dir / name).stat()
            assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (nobody.pw_uid, 0o600), name
        # DNS on its port and writes to the store keep working as nobody
        assert ow.a_records(SOLO) == {"127.0.0.50"}
        override(ow, "solo", "127.0.0.50", "down")
        assert ow.query(SOLO, "A").rcode() == dns.rcode.SERVFAIL
    finally:
        ow.stop_clean()


@root_only
def test_root_with_user_refuses_a_data_dir_of_someone_else(tmp_path):
    ow = default_overwatch(tmp_path / "ow", lambda o: hostile_config(o, user="nobody"))
    ow.data_dir.mkdir(mode=0o700, parents=True)  # root's
    msg = refused_start(ow)
    assert "belongs to uid 0, not to overwatch.user nobody" in msg, msg
    assert f"chown -R nobody {ow.data_dir}" in msg, msg
    ow2 = default_overwatch(tmp_path / "ow2", lambda o: hostile_config(o, user="no-such-user"))
    msg = refused_start(ow2)
    assert "overwatch.user: no account \"no-such-user\"" in msg, msg
