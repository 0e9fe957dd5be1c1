"""Two hosts started together on one store each load the bundled catalogue, geography and agencies: neither fails."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from mappings.service import load_bundled
from onereturn import db


def test_two_starts_at_once_each_load_the_bundled_rows_without_meeting_the_others(store: Engine) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2, timeout=60)

    def host() -> None:
        try:
            start.wait()
            with db.session_scope(store) as session:
                load_bundled(session, demo_keys=True)
        except BaseException as exc:  # every failure of either start is what the test looks for
            errors.append(exc)

    for _ in range(3):
        hosts = [threading.Thread(target=host) for _ in range(2)]
        for thread in hosts:
            thread.start()
        for thread in hosts:
            thread.join(120)
        assert not any(thread.is_alive() for thread in hosts), "a start never ended"
    assert errors == []
