"""The README's main job: the example site sets itself up and serves each tenant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SITE = Path(__file__).resolve().parents[2] / "examples" / "site"

PROBE = """
import django
django.setup()
from django.test import Client
from demo.management.commands.setup_demo import DEMO_PASSWORD
client = Client()
for host in ["localhost", "acme.localhost", "nobody.localhost", "bad_host"]:
    response = client.get("/", HTTP_HOST=host + ":8000")
    print(host, response.status_code, response.content.decode().replace("\\n", " "))
# A tenant's notes are behind that tenant's own sign-in.
for host, user in [("acme.localhost", "alice"), ("globex.localhost", "bob")]:
    signed_in = Client()
    response = signed_in.post(
        "/accounts/login/",
        {"username": user, "password": DEMO_PASSWORD},
        HTTP_HOST=host + ":8000",
    )
    assert response.status_code == 302, (host, response.status_code)
    response = signed_in.get("/", HTTP_HOST=host + ":8000")
    print(host + "+" + user, response.status_code, response.content.decode().replace("\\n", " "))
for host in ["localhost", "acme.localhost"]:  # media is routed by the tenants' URLconf only
    response = client.get("/media/acme/welcome.txt", HTTP_HOST=host + ":8000")
    print("media@" + host, response.status_code)
"""


def test_example_site_on_sqlite_serves_each_tenant_its_own_notes(tmp_path: Path) -> None:
    environ = {
        **os.environ,
        "OMNITENANT_EXAMPLE_VAR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "PYTHONPATH": str(SITE),
    }
    environ.pop("DATABASE_URL", None)
    for _ in range(2):  # the set-up is idempotent: the second run changes nothing
        setup = subprocess.run(
            [sys.executable, "manage.py", "setup_demo"],
            cwd=SITE,
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )
        assert setup.returncode == 0, setup.stderr
    assert "created tenant acme (database)" not in setup.stdout
    assert sorted(p.name for p in (tmp_path / "tenants").iterdir()) == [
        "acme.sqlite3",
        "globex.sqlite3",
    ]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=SITE,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    pages = {line.split(" ", 1)[0]: line for line in probe.stdout.splitlines()}
    assert " 200 " in pages["localhost"]
    assert "ACME Corporation" in pages["localhost"]
    # Signed out, a tenant's host sends to its sign-in page.
    assert pages["acme.localhost"].split()[1] == "302"
    acme, globex = pages["acme.localhost+alice"], pages["globex.localhost+bob"]
    assert "Ship the anvils" in acme
    assert "Hire a new CEO" not in acme
    assert "Hire a new CEO" in globex
    assert "Ship the anvils" not in globex
    # Each tenant's file is in its own folder of the tenant media storage.
    assert "Welcome to ACME Corporation." in acme
    assert 'href="/media/acme/welcome.txt"' in acme
    assert "Welcome to Globex Corporation." in globex
    assert (tmp_path / "media" / "globex" / "welcome.txt").read_text() == (
        "Welcome to Globex Corporation."
    )
    # URLconfs by kind of host: the public one (demo.urls_public) has no media route.
    assert pages["media@acme.localhost"].split()[1] == "200"
    assert pages["media@localhost"].split()[1] == "404"
    assert pages["nobody.localhost"].split()[1] == "404"
    assert pages["bad_host"].split()[1] == "400"
