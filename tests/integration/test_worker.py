"""A real Celery worker on Redis sends the outbox through a real SMTP server."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from portal import create_app
from portal.extensions import db
from portal.models import OutboxMessage
from portal.services.notify import enqueue_email
from tests.conftest import IN_CI

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PROJECT = Path(__file__).resolve().parents[2]


def redis_available() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url():
    if not redis_available():
        if IN_CI:
            pytest.fail(f"Redis is required in CI and is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


@pytest.fixture
def worker(tmp_path, redis_url, smtp_server):
    """A separate worker process with its own database file, as in production."""
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "worker-test",
        "PORTAL_INSTANCE_DIR": str(tmp_path),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
    }
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SERVER_NAME": "portal.test"})
    with app.app_context():
        db.create_all()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal.tasks",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield app, env
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def test_worker_sends_due_messages_exactly_once(worker, smtp_server):
    app, env = worker
    smtp_server.messages.clear()
    with app.app_context(), app.test_request_context():
        for n in range(3):
            enqueue_email(
                db.session,
                kind="signup_existing",
                recipient=f"person{n}@example.ru",
                subject="Test",
                context={"user": type("U", (), {"full_name": "Тест"})(), "login_url": "http://x"},
                dedup_key=f"worker-test:{n}",
            )
        db.session.commit()

    from celery import Celery

    client = Celery(broker=env["REDIS_URL"], backend=env["REDIS_URL"])
    results = [client.send_task("portal.tasks.dispatch_outbox") for _ in range(2)]
    sent = [result.get(timeout=60) for result in results]

    assert sorted(sent) == [0, 3]  # the second run finds nothing left to send
    deadline = time.monotonic() + 10
    while len(smtp_server.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(m["To"] for m in smtp_server.messages) == [
        f"person{n}@example.ru" for n in range(3)
    ]
    with app.app_context():
        statuses = db.session.scalars(db.select(OutboxMessage.status)).all()
    assert statuses == ["sent"] * 3
