"""What is worked out from rows of the store that seldom change (the catalogue's indicators, the geography), kept
for as long as those rows read the same.

Turning such rows into objects costs far more than reading them: the catalogue's 397 indicators as ORM objects
took 21 ms a reading, the same rows as text 4 ms; the geography's 3,300 rows with their dates 12 ms, as text 4 ms.
Every build of a return, and every page and review built from one, read both again. So the rows are read without
that work (dates and JSON as their stored text), and what is read is the key: where it is what it was, what was
made from it is handed out again; where any value, row or their order differs, it is made afresh. Nothing is
trusted to tell of a change (a version, a count): whoever changed the rows, in whichever process, the next reading
differs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import JSON, Date, DateTime, String, cast
from sqlalchemy import select as sa_select
from sqlmodel import Session

T = TypeVar("T")

#: A reading of some columns: each row's values as the driver gives them, in the order the store gives them.
Reading = tuple[tuple[Any, ...], ...]
#: Read as their stored text, not made into Python values (what costs the time); every other column is read as it is,
#: since a number cast to text can lose digits (SQLite writes 15 significant ones) and hide a change.
_AS_TEXT = (JSON, Date, DateTime)


#: Each reading's statement as its store's dialect writes it, made once.
_STATEMENTS: dict[tuple[str, tuple[Any, ...]], str] = {}


def as_text(session: Session, *columns: Any) -> Reading:
    """Read the columns (of one table), dates and JSON as their stored text, every row, in the order the store gives
    them, as any query without an order does; the session's pending changes are flushed first, as for any query."""
    if session.autoflush:
        session.flush()
    connection = session.connection()
    key = (connection.dialect.name, columns)
    statement = _STATEMENTS.get(key)
    if statement is None:
        read = (cast(c, String) if isinstance(c.type, _AS_TEXT) else c for c in columns)
        statement = _STATEMENTS.setdefault(key, str(sa_select(*read).compile(dialect=connection.dialect)))
    # Sent as any statement is (its events, its errors), but its rows taken from the driver's cursor as the driver's
    # tuples: a reading is only compared, and making 3,300 rows into SQLAlchemy's rows took two thirds of its time.
    result = connection.exec_driver_sql(statement)
    try:
        return tuple(result.cursor.fetchall())
    finally:
        result.close()


class Kept(Generic[T]):
    """What was made from readings, for the last ``keep`` readings that differed (a store whose rows changed, or
    stores of different content in one process, as tests give). Each costs its reading and what was made: about
    6 MiB for the catalogue's indicators and the geography together, so two of each are kept."""

    def __init__(self, keep: int = 2) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._made: OrderedDict[int, tuple[Reading, T]] = OrderedDict()

    def get(self, reading: Reading, make: Callable[[], T]) -> T:
        """What was made from this reading before, or what ``make`` makes now (kept for the next time)."""
        key = hash(reading)
        with self._lock:
            found = self._made.get(key)
            if found is not None and found[0] == reading:
                self._made.move_to_end(key)
                return found[1]
        made = make()
        with self._lock:
            self._made[key] = (reading, made)
            self._made.move_to_end(key)
            while len(self._made) > self._keep:
                self._made.popitem(last=False)
        return made
