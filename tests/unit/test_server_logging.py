"""The lab's log: lab.log under the lab's home, rotated by size."""

from __future__ import annotations

import logging
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from localcore import server
from localcore.config import LabConfig


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level, threading.excepthook
    yield root
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level = saved[0], saved[1]
    threading.excepthook = saved[2]


def test_lab_log_is_a_rotating_file_in_the_labs_home(tmp_path, root_logging):
    config = LabConfig(home=tmp_path / "lab")

    server.configure_logging(config)

    [handler] = [h for h in root_logging.handlers if isinstance(h, RotatingFileHandler)]
    assert Path(handler.baseFilename) == config.log_file
    assert (handler.maxBytes, handler.backupCount) == (server.LOG_MAX_BYTES, server.LOG_BACKUPS)
    assert 1024 * 1024 <= server.LOG_MAX_BYTES * (server.LOG_BACKUPS + 1) <= 100 * 1024 * 1024


def test_lab_log_rotates_and_keeps_a_few_files(tmp_path, root_logging):
    config = LabConfig(home=tmp_path / "lab")
    server.configure_logging(config)
    [handler] = [h for h in root_logging.handlers if isinstance(h, RotatingFileHandler)]
    handler.maxBytes = 2000  # the same handler, a smaller size, so the test writes kilobytes, not megabytes

    for number in range(500):
        logging.getLogger("localcore.http").info("iot CreateThing -> 400 InvalidRequestException: request %d", number)

    files = sorted(p.name for p in config.home.iterdir() if p.name.startswith("lab.log"))
    assert files == ["lab.log", "lab.log.1", "lab.log.2", "lab.log.3"]
    assert all((config.home / name).stat().st_size <= 2000 for name in files)
    assert "request 499" in config.log_file.read_text()


def test_a_crashing_thread_is_logged(tmp_path, root_logging, caplog):
    server.configure_logging(LabConfig(home=tmp_path / "lab"))
    root_logging.addHandler(caplog.handler)

    thread = threading.Thread(target=lambda: 1 / 0, name="worker")
    thread.start()
    thread.join()

    [record] = [r for r in caplog.records if r.name == "localcore"]
    assert record.getMessage() == "thread worker failed: ZeroDivisionError: division by zero"
