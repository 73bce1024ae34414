"""Where a history comes from: one file, a directory or a glob of shards; JSON Lines, CSV
or Parquet.

A history named by a directory is every `.jsonl`, `.ndjson`, `.csv`, `.parquet` and `.pq`
file in it; one named by a glob pattern (`*`, `?`, `[`) is every file it matches. Shards
are read in the order of their names, as if concatenated: the lines (a Parquet shard's
rows) are numbered on from one shard to the next, so a history split into shards replays
exactly as the one file it was split from, event for event and line for line (error
messages and the sequencing of shared limits use these numbers).

A Parquet history has one row per event: the column `event` holds the event's JSON object
as text (the same object as a JSON Lines line), `member_id` the member (read without
decoding the event: a worker of a partitioned run decodes only its own members' rows),
and `type` and `at` the event's type and instant for other tools to query.
`ParquetSink` writes such files (`loyalty generate --format parquet`). pyarrow is imported
only when a Parquet file is read or written.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.simulation.history import Event, EventError, decode_line, read_csv, read_jsonl

PARQUET = frozenset({".parquet", ".pq"})
SHARD_SUFFIXES = frozenset({".jsonl", ".ndjson", ".csv"}) | PARQUET
COLUMNS = ("type", "member_id", "at", "event")
ROW_GROUP = 65_536  # rows a Parquet row group (and a reader's batch) holds


class HistoryUnreadable(ValueError):
    """The history names no file, or a file that is not a history (a Parquet file without
    its `event` column, a corrupt one); the message names the path."""


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET


def resolve(spec: str | Path) -> list[Path]:
    """The shard files of a history, in the order they are read (by name)."""
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        shards = sorted(p for p in path.iterdir()
                        if p.is_file() and p.suffix.lower() in SHARD_SUFFIXES
                        and not p.name.startswith("."))
        if not shards:
            raise HistoryUnreadable(f"{spec}: the directory holds no history file "
                                    f"({', '.join(sorted(SHARD_SUFFIXES))})")
        return shards
    if glob.has_magic(str(spec)):
        shards = sorted(Path(p) for p in glob.glob(str(spec)) if Path(p).is_file())
        if not shards:
            raise HistoryUnreadable(f"{spec}: no file matches the pattern")
        return shards
    raise HistoryUnreadable(f"{spec}: no such file or directory")


def _text_lines(path: Path) -> int:
    """Lines of a text file (a last line without a newline counts)."""
    total, last = 0, b"\n"
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            total += chunk.count(b"\n")
            last = chunk[-1:]
    return total + (last != b"\n")


def _parquet(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise HistoryUnreadable(f"{path}: not a readable Parquet file: {exc}") from None
    names = file.schema_arrow.names
    if "event" not in names:
        raise HistoryUnreadable(f"{path}: a Parquet history needs the column `event` (the "
                                f"event's JSON text); it has {', '.join(names) or 'none'}")
    return file


def shard_size(path: Path) -> int:
    """Lines of a text shard, rows of a Parquet one: what its line numbers take up."""
    return int(_parquet(path).metadata.num_rows) if is_parquet(path) else _text_lines(path)


def count_events(spec: str | Path) -> int:
    """Lines (and Parquet rows) of a whole history: the progress bar's total."""
    return sum(shard_size(p) for p in resolve(spec))


def parquet_rows(path: Path) -> Iterator[tuple[str | None, str | None]]:
    """(member id or None, event text or None) of each row of a Parquet history."""
    import pyarrow as pa

    file = _parquet(path)
    columns = ["member_id", "event"] if "member_id" in file.schema_arrow.names else ["event"]
    try:
        for batch in file.iter_batches(batch_size=ROW_GROUP, columns=columns):
            texts = batch.column(len(columns) - 1).to_pylist()
            members = batch.column(0).to_pylist() if len(columns) == 2 else [None] * len(texts)
            yield from zip(members, texts)
    except pa.ArrowException as exc:
        raise HistoryUnreadable(f"{path}: {exc}") from None


def read_parquet(path: Path, keep: Callable[[str | None], bool] | None = None,
                 first: int = 1) -> Iterator[Event | EventError]:
    """Events of a Parquet history, row `first` + i for the i-th row; `keep` as for JSON
    Lines, on the `member_id` column before the event is decoded."""
    for number, (member, text) in enumerate(parquet_rows(path), start=first):
        if keep is not None and isinstance(member, str) and member and not keep(member):
            continue
        if not isinstance(text, str) or not text.strip():
            if keep is None or keep(None):
                yield EventError(number, "the row's `event` is empty")
            continue
        item = decode_line(number, text, keep)
        if item is not None:
            yield item


def read_history(spec: str | Path, keep: Callable[[str | None], bool] | None = None,
                 ) -> Iterator[Event | EventError]:
    """Events of a whole history (every shard in order, line numbers running on)."""
    first = 1
    for path in resolve(spec):
        size = shard_size(path)
        if is_parquet(path):
            yield from read_parquet(path, keep, first)
        elif path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8", newline="") as stream:
                for item in read_csv(stream, keep, first):
                    if isinstance(item, EventError) and not item.message:
                        continue  # another reader's order
                    yield item
        else:
            with path.open(encoding="utf-8") as stream:
                yield from read_jsonl(stream, keep, first)
        first += size


def event_texts(spec: str | Path) -> Iterator[str]:
    """The raw JSON text of every event of a history (CSV shards have none to offer)."""
    for path in resolve(spec):
        if is_parquet(path):
            yield from (text for _, text in parquet_rows(path) if isinstance(text, str))
        elif path.suffix.lower() != ".csv":
            with path.open(encoding="utf-8") as stream:
                yield from stream


class ParquetSink:
    """A text stream that writes the JSON lines it is given as Parquet rows: one file, or
    `shards` files `part-00000.parquet`… in a directory, each of `per_shard` rows in turn
    (the last takes the rest). `close()` writes what is left."""

    def __init__(self, out: str | Path, shards: int = 1, per_shard: int = 0) -> None:
        self.out, self.shards, self.per_shard = Path(out), shards, per_shard
        self.rows: dict[str, list[str]] = {c: [] for c in COLUMNS}
        self.pending, self.shard, self.in_shard = "", -1, 0
        self.writer: Any = None
        self.paths: list[Path] = []
        if shards > 1:
            self.out.mkdir(parents=True, exist_ok=True)

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            if line.strip():
                self._row(line)
        return len(text)

    def _row(self, line: str) -> None:
        if self.writer is None or (self.shards > 1 and self.shard < self.shards - 1
                                   and self.in_shard >= self.per_shard):
            self._next_shard()
        data = json.loads(line)
        for key in ("type", "member_id", "at"):
            self.rows[key].append(data.get(key))
        self.rows["event"].append(line)
        self.in_shard += 1
        if len(self.rows["event"]) >= ROW_GROUP:
            self._flush()

    def _next_shard(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._flush()
        if self.writer is not None:
            self.writer.close()
        self.shard += 1
        self.in_shard = 0
        path = self.out / f"part-{self.shard:05d}.parquet" if self.shards > 1 else self.out
        schema = pa.schema([(c, pa.string()) for c in COLUMNS])
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.paths.append(path)

    def _flush(self) -> None:
        if self.writer is None or not self.rows["event"]:
            return
        import pyarrow as pa

        self.writer.write_table(pa.table(self.rows), row_group_size=ROW_GROUP)
        self.rows = {c: [] for c in COLUMNS}

    def close(self) -> None:
        if self.pending.strip():
            self._row(self.pending)
            self.pending = ""
        if self.writer is None:  # an empty history is still a file
            self._next_shard()
        self._flush()
        self.writer.close()

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
