"""A real Celery worker on Redis checks a large readings file, then imports it."""

import os
import subprocess
import sys
import time

import pytest
import redis

from portal import create_app
from portal.extensions import db
from portal.models import ImportBatch, Reading
from portal.services import readings_import as importer
from tests import factories
from tests.conftest import IN_CI

# A Redis database of its own: test runs that share a Redis server flush theirs.
REDIS_URL = os.environ.get("TEST_IMPORT_REDIS_URL", "redis://127.0.0.1:6379/13")

pytestmark = pytest.mark.redis


@pytest.fixture
def worker(tmp_path):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "worker-test",
        "PORTAL_INSTANCE_DIR": str(tmp_path),
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
        cwd=factories.project_dir(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield app, env
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    with app.app_context():
        db.engine.dispose()


def wait_for(app, batch_id: int, status: str, timeout: float = 60) -> ImportBatch:
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            batch = db.session.get(ImportBatch, batch_id)
            if batch.status == status or time.monotonic() > deadline:
                db.session.expunge(batch)
                return batch
        time.sleep(0.2)


def test_worker_checks_and_imports_a_file(worker, monkeypatch):
    app, env = worker
    monkeypatch.setattr(importer, "INLINE_CHECK_LINES", 1)  # checked by the worker too
    with app.app_context():
        meter = factories.make_meter(db.session, factories.make_account(db.session), zones=2)
        data = (
            f"{meter.account.number};{meter.serial_number};1;2026-03-10;150\n"
            f"{meter.account.number};{meter.serial_number};2;2026-03-10;50\n"
            f"{meter.account.number};{meter.serial_number};3;2026-03-10;5\n"
        ).encode()
        db.session.commit()
        batch = importer.create_batch(db.session, filename="a.csv", data=data, staff_id=None)
        db.session.commit()  # as the upload view does, before the worker looks for it
        batch_id = batch.id
        assert batch.status == "uploaded"
        assert importer.send_to_worker(env["REDIS_URL"], batch_id)

    checked = wait_for(app, batch_id, "pending")
    assert (checked.status, checked.error_lines) == ("pending", 1)

    with app.app_context():
        importer.queue(db.session, batch_id, staff_id=None)
        db.session.commit()
        assert importer.send_to_worker(env["REDIS_URL"], batch_id)
        assert importer.send_to_worker(env["REDIS_URL"], batch_id)  # twice: imported once

    done = wait_for(app, batch_id, "done")
    assert (done.status, done.imported_lines, done.source_csv) == ("done", 2, None)
    with app.app_context():
        assert db.session.query(Reading).count() == 2
