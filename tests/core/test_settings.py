"""Bad configuration fails at start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("reader", "name", "value", "fragment"),
    [
        (lambda: env.env_bool("X_FLAG", False), "X_FLAG", "maybe", "X_FLAG must be a boolean"),
        (lambda: env.env_int("X_NUM", 1), "X_NUM", "ten", "X_NUM must be an integer"),
        (lambda: env.env_int("X_NUM", 1, minimum=1), "X_NUM", "0", "X_NUM must be >= 1"),
        (lambda: env.env_database("X_DB"), "X_DB", "sqlite:///db.sqlite3", "X_DB must be a postgres:// URL"),
        (lambda: env.env_database("X_DB"), "X_DB", "postgres://host:5432", "X_DB must name a database"),
        (lambda: env.env_redis_url("X_REDIS"), "X_REDIS", "localhost:6379", "X_REDIS must be a redis:// URL"),
        (lambda: env.env_str("X_REQUIRED"), "X_OTHER", "", "X_REQUIRED is required"),
        (lambda: env.env_decimal("X_AMOUNT", "0"), "X_AMOUNT", "1,50", "X_AMOUNT must be a decimal amount"),
        (lambda: env.env_decimal("X_AMOUNT", "0"), "X_AMOUNT", "-1", "X_AMOUNT must be a non-negative amount"),
        (lambda: env.env_decimal("X_AMOUNT", "0"), "X_AMOUNT", "NaN", "X_AMOUNT must be a non-negative amount"),
    ],
)
def test_readers_name_the_variable(monkeypatch, reader, name, value, fragment):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=fragment):
        reader()


def test_readers_parse_good_values(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    monkeypatch.setenv("X_NUM", "42")
    monkeypatch.setenv("X_LIST", "a.example, b.example")
    assert env.env_bool("X_FLAG", False) is True
    assert env.env_int("X_NUM", 1) == 42
    assert env.env_list("X_LIST", []) == ["a.example", "b.example"]
    assert env.env_bool("X_UNSET", True) is True
    monkeypatch.setenv("X_AMOUNT", "2.50")
    assert str(env.env_decimal("X_AMOUNT", "0")) == "2.50"


def test_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-from-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_str("X_SECRET") == "s3cret-from-file"
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="X_SECRET_FILE: cannot read"):
        env.env_str("X_SECRET")


def _start(**overrides: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    environment.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"DATABASE_URL": "sqlite:///x.db", "DEBUG": "1"}, "DATABASE_URL must be a postgres:// URL"),
        ({"REDIS_URL": "nope", "DEBUG": "1"}, "REDIS_URL must be a redis:// URL"),
        ({"DEBUG": "perhaps"}, "DEBUG must be a boolean"),
        ({"SECRET_KEY": "short", "DEBUG": "0"}, "SECRET_KEY must be at least 32 characters"),
        ({"JWT_ACCESS_MINUTES": "0", "DEBUG": "1"}, "JWT_ACCESS_MINUTES must be >= 1"),
        ({"MDS_PROVIDER_ID": "freewheel", "DEBUG": "1"}, "MDS_PROVIDER_ID must be a UUID"),
    ],
)
@pytest.mark.slow
def test_the_process_refuses_to_start_on_a_bad_variable(overrides, fragment):
    result = _start(**overrides)
    assert result.returncode != 0
    assert fragment in result.stderr


@pytest.mark.slow
def test_the_process_refuses_to_start_without_secret_key_in_production():
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_database_connections_persist_per_thread_or_come_from_a_pool(monkeypatch):
    monkeypatch.setenv("X_DB", "postgres://postgres@127.0.0.1:5432/freewheel")
    persistent, closed, pooled = (env.env_database("X_DB", pool_size=size) for size in (None, 0, 4))
    assert (persistent["CONN_MAX_AGE"], "pool" in persistent.get("OPTIONS", {})) == (60, False)
    assert (closed["CONN_MAX_AGE"], "pool" in closed.get("OPTIONS", {})) == (0, False)
    assert (pooled["CONN_MAX_AGE"], pooled["OPTIONS"]["pool"]) == (0, {"min_size": 1, "max_size": 4})


@pytest.mark.slow
def test_asgi_servers_pool_their_connections_and_the_other_processes_keep_them():
    """config.asgi is what every ASGI server imports first (daphne, uvicorn); WSGI and Celery are left as they were
    (their threads live long and reuse their connection). `manage.py runserver` is covered by the slow
    tests/core/test_asgi_connections.py, which serves requests through it."""
    code = ("import {0}; from django.conf import settings; db = settings.DATABASES['default']; "
            "print(settings.ASGI_SERVER, db['CONN_MAX_AGE'], db.get('OPTIONS', {{}}).get('pool'))")
    environment = {k: v for k, v in os.environ.items() if k not in ("ASGI_SERVER", "ASGI_DB_POOL_SIZE")}
    seen = {}
    for module in ("config.asgi", "config.wsgi", "config.celery"):
        if module == "config.celery":  # a worker loads the settings through Celery's config_from_object
            code_for = code.format("config.celery, django; django.setup()")
        else:
            code_for = code.format(module)
        done = subprocess.run([sys.executable, "-c", code_for], cwd=ROOT, env=environment, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        seen[module] = done.stdout.split("\n")[-2]
    assert seen == {"config.asgi": "True 0 {'min_size': 1, 'max_size': 10}",
                    "config.wsgi": "False 60 None", "config.celery": "False 60 None"}
    checked = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                             env={**environment, "ASGI_SERVER": "1", "ASGI_DB_POOL_SIZE": "3"}, timeout=60)
    assert checked.returncode == 0, checked.stderr
    bad = _start(ASGI_DB_POOL_SIZE="-1", DEBUG="1")
    assert bad.returncode != 0 and "ASGI_DB_POOL_SIZE must be >= 0" in bad.stderr


@pytest.mark.parametrize(
    ("config", "url"),
    [
        # the embedded PostgreSQL: a unix-socket folder as host; unencoded, "/srv" would end the host
        ({"USER": "postgres", "HOST": "/srv/Fw Dev/.services/postgres", "PORT": 5432, "NAME": "test_freewheel"},
         "postgres://postgres@%2Fsrv%2FFw%20Dev%2F.services%2Fpostgres:5432/test_freewheel"),
        ({"USER": "app", "HOST": "db.example", "PORT": 6432, "NAME": "freewheel"},
         "postgres://app@db.example:6432/freewheel"),
        ({"USER": "app", "PASSWORD": "p@ss:w/rd?#%", "HOST": "127.0.0.1", "PORT": 5432, "NAME": "fw"},
         "postgres://app:p%40ss%3Aw%2Frd%3F%23%25@127.0.0.1:5432/fw"),
        ({"USER": "app", "HOST": "db.example", "PORT": "", "NAME": "fw", "OPTIONS": {"sslmode": "require"}},
         "postgres://app@db.example/fw?sslmode=require"),
        # libpq's "options" holds spaces ("-c name=value"): a "+" for a space would reach the server as a "+"
        ({"USER": "app", "HOST": "db.example", "PORT": "", "NAME": "fw",
          "OPTIONS": {"options": "-c freewheel.audit_truncate=allow"}},
         "postgres://app@db.example/fw?options=-c%20freewheel.audit_truncate%3Dallow"),
        ({"USER": "", "HOST": "", "PORT": "", "NAME": "fw"}, "postgres:///fw"),  # libpq's default socket
        ({"USER": "app", "HOST": "::1", "PORT": 5432, "NAME": "fw"}, "postgres://app@[::1]:5432/fw"),
    ],
)
def test_database_url_is_read_back_as_the_same_database(monkeypatch, config, url):
    assert env.database_url(config) == url
    monkeypatch.setenv("X_DB", url)
    parsed = env.env_database("X_DB")
    for key in ("USER", "HOST", "PORT", "NAME"):
        assert str(parsed.get(key) or "") == str(config.get(key) or ""), key
    assert parsed.get("PASSWORD", "") == config.get("PASSWORD", "")
    assert parsed.get("OPTIONS", {}) == config.get("OPTIONS", {})
    libpq = psycopg.conninfo.conninfo_to_dict(url)  # what psql, psycopg and pg tools read from it
    assert (libpq.get("host"), libpq.get("dbname")) == (config["HOST"] or None, config["NAME"])


def test_database_url_refuses_options_a_url_cannot_carry():
    with pytest.raises(ValueError, match="pool"):
        env.database_url({"HOST": "h", "NAME": "fw", "OPTIONS": {"pool": {"min_size": 2}}})


def test_a_benchmark_s_database_url_keeps_the_server_and_options():
    from bench import common

    url = "postgres://app:p%40ss@%2Fsrv%2Fpg:5432/freewheel?sslmode=require"
    assert common.with_database(url, "bench_x_1") == "postgres://app:p%40ss@%2Fsrv%2Fpg:5432/bench_x_1?sslmode=require"
