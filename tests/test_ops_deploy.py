"""The files under ``deploy/`` (issue 12, item 6) are checked by the tools that will read them.

- the systemd units pass ``systemd-analyze verify`` (with the install paths pointed at this
  checkout) and start commands that exist;
- the nginx snippet passes ``nginx -t`` inside a throwaway main config with a self-signed
  certificate, and proxies to the default ``PORT``;
- the production environment example names only real settings and loads;
- no container file is shipped (CI here has no engine to build one; the README says so).

A tool that is not installed skips its test with the reason (``.ci/run`` installs nginx).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.config import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
UNITS = ["ppp-desk.service", "chroma.service", "ppp-desk-backup.service", "ppp-desk-backup.timer"]
BIN = Path(sys.executable).parent


def _commands(path: Path) -> list[str]:
    return [line.split("=", 1)[1] for line in path.read_text("utf-8").splitlines() if line.startswith("ExecStart")]


def test_units_start_real_commands() -> None:
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    assert _commands(DEPLOY / "ppp-desk.service") == ["/opt/ppp-desk/.venv/bin/ppp-desk serve"]
    assert "ppp-desk backup" in _commands(DEPLOY / "ppp-desk-backup.service")[0]
    assert {"serve", "backup", "restore", "migrate", "doctor"} <= subcommands
    assert "chroma run" in _commands(DEPLOY / "chroma.service")[0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_verify(tmp_path: Path) -> None:
    if not (BIN / "chroma").exists():
        pytest.skip(f"no chroma executable next to the interpreter ({BIN})")
    for name in UNITS:
        text = (DEPLOY / name).read_text("utf-8").replace("/opt/ppp-desk/.venv/bin/", f"{BIN}/")
        (tmp_path / name).write_text(text, "utf-8")
    done = subprocess.run(["systemd-analyze", "verify", *[str(tmp_path / n) for n in UNITS]],
                          capture_output=True, text=True, timeout=60)
    noise = [line for line in done.stderr.splitlines() if "not executable" not in line or str(BIN) in line]
    assert done.returncode == 0 and not noise, done.stderr


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx not installed (.ci/run installs nginx-light)")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_nginx_snippet_is_valid(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=ppp-desk.example.jp", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    snippet = (DEPLOY / "nginx-ppp-desk.conf").read_text("utf-8")
    assert "proxy_pass http://127.0.0.1:3000;" in snippet and Settings.model_fields["port"].default == 3000
    snippet = (snippet.replace("/etc/letsencrypt/live/ppp-desk.example.jp/fullchain.pem", str(tmp_path / "cert.pem"))
               .replace("/etc/letsencrypt/live/ppp-desk.example.jp/privkey.pem", str(tmp_path / "key.pem")))
    (tmp_path / "site.conf").write_text(snippet, "utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path};\n include {tmp_path}/site.conf;\n}}\n", "utf-8")
    done = subprocess.run([nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_production_environment_example_loads() -> None:
    aliases = {f.alias for f in Settings.model_fields.values()}
    values = {}
    for line in (DEPLOY / "ppp-desk.env.example").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            assert name in aliases, name
            values[name] = value
    settings = Settings(_env_file=None, **values)
    assert settings.database_url.startswith("postgresql+psycopg://") and settings.chroma_host
    assert settings.log_format == "json"


def test_no_untested_container_file() -> None:
    assert not [p.name for p in PROJECT_ROOT.iterdir() if p.name in ("Dockerfile", "Containerfile", "compose.yaml",
                                                                      "docker-compose.yml")]
    assert "container" in (PROJECT_ROOT / "README.md").read_text("utf-8").lower()
