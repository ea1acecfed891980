"""What `gslb-overwatch --check-config` (the unit's ExecStartPre) and the start check before
anything binds (issue 9, item 4; docs/ha-setup.md, docs/operations.md).

- A missing, unparsable, mismatched or TLS-refused api.tls_key / api.tls_cert fails
  --check-config with "<file>:<line>:<col>: api.tls_key: ..." and exit 1, and stops the start
  the same way before the store opens or DNS binds (it used to pass the check and fail after
  DNS was up with CivetWeb's "Error initializing SSL context").
- As the service user: a key only root can read fails the check; the HA guide's chgrp + chmod
  0640 makes it pass.
- The guide's Step 4 snippet pasted as printed (a top-level `dnssec:`) is refused with
  "did you mean overwatch.dnssec?".
"""
import os
import shutil
import subprocess
import tempfile

import pytest

from harness import (OVERWATCH, StartError, default_config, default_overwatch, port_free,
                     to_yaml)


def make_cert(directory, name, newkey=("ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")):
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", *newkey, "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def key_position(config_path, key):
    """(line, col) of `key:` in the written file, 1-based."""
    for number, line in enumerate(open(config_path).read().splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith(key + ":"):
            return number, len(line) - len(stripped) + 1
    raise AssertionError(f"{key} not in {config_path}")


def check_config(path, binary=OVERWATCH, **kw):
    return subprocess.run([binary, "--check-config", str(path)], capture_output=True,
                          text=True, timeout=20, **kw)


def tls_overwatch(tmp_path, cert, key):
    tls = {"tls_cert": str(cert), "tls_key": str(key)}
    return default_overwatch(tmp_path, lambda ow: default_config(ow.ports, ow.data_dir,
                                                                 api_extra=tls), tls_ca=str(cert))


def assert_refused_before_dns(tmp_path, cert, key, bad_key, problem):
    """--check-config fails with the key's position and problem; so does the start, which
    neither opens the store nor binds DNS."""
    o = tls_overwatch(tmp_path, cert, key)
    o.ports = o.pick_ports()
    o.write_config()
    line, col = key_position(o.config_path, bad_key)
    where = f"{o.config_path}:{line}:{col}: api.{bad_key}: "
    r = check_config(o.config_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith(where) and problem in r.stderr, r.stderr
    assert "config OK" not in r.stdout
    with pytest.raises(StartError) as e:
        o.start(keep_ports=True)
    assert "exited with 1" in str(e.value), str(e.value)
    log = o.log()
    assert f"gslb-overwatch: configuration: {where}" in log and problem in log, log
    assert "dns: serving on" not in log and "Error initializing SSL context" not in log, log
    assert not (o.data_dir / "data.mdb").exists()  # the store was never opened
    assert port_free("127.0.0.1", o.ports["dns"])


def test_missing_tls_key_fails_check_and_start_before_dns(tmp_path):
    cert, _ = make_cert(str(tmp_path), "api")
    assert_refused_before_dns(tmp_path, cert, tmp_path / "missing.key", "tls_key",
                              "No such file or directory")


def test_unparsable_tls_key_fails_check_and_start_before_dns(tmp_path):
    cert, _ = make_cert(str(tmp_path), "api")
    assert_refused_before_dns(tmp_path, cert, cert, "tls_key",
                              "holds no unencrypted PEM private key")
    assert_refused_before_dns(tmp_path, cert, tmp_path, "tls_key", "is not a regular file")


def test_mismatched_tls_key_fails_check_and_start_before_dns(tmp_path):
    cert, _ = make_cert(str(tmp_path), "api")
    _, other_key = make_cert(str(tmp_path), "other")
    assert_refused_before_dns(tmp_path, cert, other_key, "tls_key",
                              "is not the private key of api.tls_cert")


def test_certificate_tls_refuses_fails_check_and_start_before_dns(tmp_path):
    """An RSA-512 pair parses and matches, but OpenSSL's TLS refuses it ("ee key too small"):
    before, the node served DNS and then died on "Error initializing SSL context"."""
    cert, key = make_cert(str(tmp_path), "weak", newkey=("rsa:512",))
    assert_refused_before_dns(tmp_path, cert, key, "tls_cert", "TLS cannot use")


def test_good_tls_pair_passes_check_and_starts(tmp_path):
    cert, key = make_cert(str(tmp_path), "api")
    o = tls_overwatch(tmp_path, cert, key)
    o.ports = o.pick_ports()
    o.write_config()
    r = check_config(o.config_path)
    assert r.returncode == 0 and r.stdout.strip() == "config OK", r.stderr
    o.start(keep_ports=True)
    try:
        assert "listening on https://" in o.log()
    finally:
        o.stop_clean()


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to the unprivileged user nobody")
def test_key_readable_by_root_only_fails_for_the_service_user(tmp_path):
    """The check runs as the user it is started as (the unit's User=): a 0600 root key fails
    for nobody, and the guide's `chgrp <service group>` + `chmod 0640` makes it pass."""
    shared = tempfile.mkdtemp(prefix="gslb-svcuser-", dir="/tmp")  # pytest's tmp is 0700
    try:
        os.chmod(shared, 0o755)
        cert, key = make_cert(shared, "api")
        os.chmod(cert, 0o644)
        os.chmod(key, 0o600)
        config = os.path.join(shared, "overwatch.yaml")
        ports = {"dns": 5353, "api": 9090, "metrics": 9091, "gossip": 7946}
        c = default_config(ports, "/tmp", api_extra={"tls_cert": cert, "tls_key": key})
        with open(config, "w") as f:
            f.write(to_yaml(c))
        os.chmod(config, 0o644)
        line, col = key_position(config, "tls_key")
        # the build tree may sit where nobody cannot reach it (CI clones under /root)
        binary = os.path.join(shared, "gslb-overwatch")
        shutil.copy(OVERWATCH, binary)
        os.chmod(binary, 0o755)
        r = check_config(config, binary, user=65534, group=65534)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert r.stderr.startswith(f"{config}:{line}:{col}: api.tls_key: cannot open"), r.stderr
        assert "as uid 65534: Permission denied" in r.stderr
        assert check_config(config).returncode == 0  # root can read it
        os.chown(key, 0, 65534)
        os.chmod(key, 0o640)
        r = check_config(config, binary, user=65534, group=65534)
        assert r.returncode == 0 and r.stdout.strip() == "config OK", r.stderr
    finally:
        shutil.rmtree(shared)


STEP4_SNIPPET = """\
dnssec:
  enabled: true
  key_sync:
    peers:
      - "https://overwatch-us-west-1.internal:9090"
      - "https://overwatch-eu-west-1.internal:9090"
    poll_interval: 1h
"""


def test_guide_step4_snippet_pasted_as_printed_suggests_overwatch_dnssec(tmp_path):
    seed = os.path.join(os.environ["GSLB_FIXTURES"], "seed", "overwatch-1.yaml")
    text = open(seed).read().rstrip("\n") + "\n" + STEP4_SNIPPET
    path = tmp_path / "overwatch.yaml"
    path.write_text(text)
    line = text.splitlines().index("dnssec:") + 1
    env = dict(os.environ, WEBAPP_TOKEN="w" * 16, API_TOKEN="a" * 16,
               GOSSIP_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    r = check_config(path, env=env)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{path}:{line}:1: dnssec: "), r.stderr
    assert "did you mean overwatch.dnssec?" in r.stderr, r.stderr
