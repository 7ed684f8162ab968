"""Deployment files stay valid: compose syntax and the README's two commands."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def test_compose_is_valid_and_complete():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {"postgres", "redis", "api", "worker", "beat", "vtn"}
    for name in ("postgres", "redis", "api"):
        assert "healthcheck" in services[name], name
    assert services["api"]["command"][:2] == ["flexplatform", "serve"]
    assert services["vtn"]["command"][:2] == ["flexplatform", "vtn"]
    assert {"--cert", "--key", "--ca"} <= set(services["vtn"]["command"])  # TLS, never insecure
    for name in ("api", "worker", "beat", "vtn"):
        env = services[name]["environment"]
        assert env["FLEX_DATABASE_URL"].startswith("postgresql://")
        assert env["FLEX_REDIS_URL"].startswith("redis://")


def test_readme_commands_and_ci_agree():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = ("python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && "
                ".venv/bin/ruff check . && .venv/bin/pytest -q")
    assert test_cmd in readme and test_cmd in ci
    assert ".venv/bin/flexplatform demo" in readme
    assert "FLEX_DATABASE_URL" in ci and "FLEX_REDIS_URL" in ci
