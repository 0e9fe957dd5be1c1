"""The store's tables, row by row: surrogate ids as their rank, the run's timestamps and sealed bytes normalised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, Integer, MetaData, Table, select

from tools.outputs.rows import Run

#: Columns left out of every table they are in, and why: each differs between two runs of the same code.
LEFT_OUT: dict[str, str] = {
    "submission.lease_owner": "the host, process and start of the process that held the upload",
    "scheduler_heartbeat.holder": "the host and process that held the scheduler",
    "export_snapshot.content_hash": "the digest of the file's bytes, which hold the build's own timestamp (the "
    "file itself is dumped by its rows, and its data column by the digest of its rows)",
    "export_snapshot.size_bytes": "the length of those bytes, whose timestamp's digits vary in a workbook's zip",
    "csc_payload_extract.content_hash": "the digest of the uploaded extract's bytes: the demo writes its zip as it "
    "loads, and a zip holds its members' times (the payloads made from it are compared row by row)",
}
#: Columns holding another table's surrogate id where the schema declares no foreign key: (table, its id column).
REFERENCES: dict[str, str] = {
    "submission_id": "submission",
    "snapshot_id": "export_snapshot",
    "previous_id": "",
    "build_id": "return_build",
    "superseded_by": "",
    "extract_id": "ssd_extract",
}


def surrogate(table: Table) -> str | None:
    """The table's surrogate id (one integer primary key counted by the store), if it has one."""
    keys = list(table.primary_key.columns)
    if len(keys) == 1 and isinstance(keys[0].type, Integer) and keys[0].autoincrement in (True, "auto"):
        return keys[0].name
    return None


def ranks(engine: Engine, meta: MetaData) -> dict[str, dict[int, int]]:
    """Each table's surrogate ids by their rank (1 for the lowest): a counter's value is where it stopped."""
    found: dict[str, dict[int, int]] = {}
    with engine.connect() as connection:
        for table in meta.sorted_tables:
            key = surrogate(table)
            if key is not None:
                ids = connection.execute(select(table.c[key]).order_by(table.c[key])).scalars()
                found[table.name] = {int(i): rank for rank, i in enumerate(ids, start=1)}
    return found


def target(table: Table, column: str) -> str | None:
    """The table a column's ids count in, by its foreign key or by :data:`REFERENCES`."""
    for fk in table.c[column].foreign_keys:
        return fk.column.table.name
    if column in REFERENCES:
        return REFERENCES[column] or table.name
    return None


def dump_tables(engine: Engine, run: Run, out: Path) -> int:
    """Write every table of the store as ``store/<table>.tsv``, rows sorted; the number of rows written."""
    meta = MetaData()
    meta.reflect(engine)
    ranked = ranks(engine, meta)
    referred = {target(t, c.name) for t in meta.sorted_tables for c in t.columns if c.name != surrogate(t)}
    folder = out / "store"
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for table in sorted(meta.sorted_tables, key=lambda t: t.name):
        # A counter no row refers to is left out: rows written from a set are counted in the set's order, which
        # differs between runs (record_lineage); the rows, sorted, are the same.
        unused = surrogate(table) if table.name not in referred else None
        rows = sorted(table_rows(engine, table, ranked, run, unused))
        names = [c.name for c in table.columns if f"{table.name}.{c.name}" not in LEFT_OUT and c.name != unused]
        (folder / f"{table.name}.tsv").write_text("\n".join(["\t".join(names), *rows]) + "\n", encoding="utf-8")
        total += len(rows)
    return total


def table_rows(
    engine: Engine, table: Table, ranked: dict[str, dict[int, int]], run: Run, unused: str | None
) -> Iterator[str]:
    """One table's rows as text, each cell named by its column (``unused``: an id no row refers to, left out)."""
    columns = [c.name for c in table.columns if f"{table.name}.{c.name}" not in LEFT_OUT and c.name != unused]
    counted = {c: target(table, c) for c in columns}
    key = surrogate(table)
    if key is not None:
        counted[key] = table.name
    with engine.connect() as connection:
        for row in connection.execute(select(*(table.c[c] for c in columns))):
            cells = []
            for name, value in zip(columns, row, strict=True):
                into = counted.get(name)
                if into is not None and isinstance(value, int) and into in ranked:
                    value = f"#{ranked[into].get(value, -value):06d}"
                    cells.append(f"{name}={value}")
                else:
                    cells.append(f"{name}={run.value(value)}")
            yield "\t".join(cells)
