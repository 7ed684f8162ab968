"""Readings in: JSON rows, CSV bytes in a stream, CSV and Parquet files, as Arrow batches.

Each reader yields ``(columns, rows)``: the four columns of ``validate.COLUMNS`` as Arrow
arrays and the row number of each (1-based, header excluded; a blank CSV line keeps its
number and is skipped). Memory stays bounded by the batch, never by the upload: CSV is
cut at the last line break of every ``chunk_bytes`` and parsed by Arrow's reader; Parquet
is read a row group slice at a time.

CSV: a header naming ``mpan`` and ``start`` and at least one of ``import_kwh`` and
``export_kwh`` (any order; no other columns), comma-separated, UTF-8, one reading per line
(quoted values may not span lines).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from flexplatform.errors import InvalidInput, field_error
from flexplatform.reporting.validate import COLUMNS, Problems

Batch = tuple[dict[str, pa.Array], np.ndarray]
CHUNK_BYTES = 4 * 1024 * 1024
MAX_LINE = 64 * 1024  # a reading is ~50 bytes; a longer line is not one
PARQUET_BATCH_ROWS = 65_536
_VALUES = ("import_kwh", "export_kwh")


def header(line: str) -> list[str]:
    """The CSV's column names, checked: required present, nothing unknown or repeated."""
    names = [c.strip().strip('"') for c in line.lstrip("\ufeff").strip().split(",")]
    return check_columns(names, "header")


def check_columns(names: list[str], where: str) -> list[str]:
    problems = []
    for c in sorted({c for c in names if names.count(c) > 1}):
        problems.append(f"column '{c}' appears twice")
    for c in names:
        if c not in COLUMNS:
            problems.append(f"unknown column '{c}' (columns: {', '.join(COLUMNS)})")
    for c in ("mpan", "start"):
        if c not in names:
            problems.append(f"column '{c}' is required")
    if not any(c in names for c in _VALUES):
        problems.append("give import_kwh, export_kwh or both")
    if problems:
        raise InvalidInput(f"the {where} is not a meter readings {where}: {'; '.join(problems)}",
                           errors=[field_error([where], p) for p in problems])
    return names


def json_batches(readings: list[Any], size: int = 50_000) -> Iterator[Batch]:
    """Rows of the bulk JSON body (objects with mpan, start, import_kwh, export_kwh)."""
    for lo in range(0, len(readings), size):
        part = readings[lo : lo + size]
        cols = {"mpan": pa.array([r.mpan for r in part], pa.string()),
                "start": pa.array([r.start for r in part], pa.string()),
                "import_kwh": pa.array([r.import_kwh for r in part], pa.float64()),
                "export_kwh": pa.array([r.export_kwh for r in part], pa.float64())}
        yield cols, np.arange(lo + 1, lo + len(part) + 1, dtype=np.int64)


class CsvStream:
    """Cuts a byte stream into line-aligned chunks and parses each with Arrow.

    ``sha256`` covers every byte received, for the submission record.
    """

    def __init__(self, chunks: Iterable[bytes], problems: Problems,
                 chunk_bytes: int | None = None):
        self.chunks, self.problems = chunks, problems
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self.sha256 = hashlib.sha256()
        self.names: list[str] | None = None
        self.next_row = 1

    def __iter__(self) -> Iterator[Batch]:
        buf = bytearray()
        for chunk in self.chunks:
            self.sha256.update(chunk)
            buf += chunk
            if self.names is None:
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) > MAX_LINE:
                        raise InvalidInput("the first line (the header) is too long",
                                           errors=[field_error(["header"], "too long")])
                    continue
                self.names = header(self._text(bytes(buf[:end]), 0))
                del buf[: end + 1]
            while len(buf) >= self.chunk_bytes:  # however the body arrives, parse ~chunks
                cut = buf.rfind(b"\n", 0, self.chunk_bytes) + 1 or buf.find(
                    b"\n", self.chunk_bytes) + 1
                if not cut:
                    if len(buf) > self.chunk_bytes + MAX_LINE:
                        raise InvalidInput(f"row {self.next_row} is longer than {MAX_LINE} "
                                           "bytes", errors=[field_error(
                                               ["rows", self.next_row], "line too long")])
                    break
                part = bytes(buf[:cut])
                del buf[:cut]
                yield from self._parse(part)
        if self.names is None:
            if not buf.strip():
                raise InvalidInput("empty body: a CSV header and readings are expected",
                                   errors=[field_error(["header"], "missing")])
            self.names = header(self._text(bytes(buf), 0))
            buf.clear()
        if buf:
            yield from self._parse(bytes(buf))

    def _text(self, data: bytes, first_row: int) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            row = first_row + data.count(b"\n", 0, e.start)
            where = f"row {row}" if first_row else "the header"
            raise InvalidInput(f"the body is not UTF-8 text (invalid byte in {where})",
                               errors=[field_error(["rows", row] if first_row else ["header"],
                                                   "not UTF-8 text")]) from None

    def _parse(self, data: bytes) -> Iterator[Batch]:
        assert self.names is not None
        first = self.next_row
        self._text(data, first)
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        self.next_row += lines
        odd: dict[int, str] = {}  # line in chunk (1-based) -> what is wrong with it

        def invalid(row: Any) -> str:
            odd[row.number] = "" if not row.text.strip() else (
                f"expected {row.expected_columns} comma-separated fields, got {row.actual_columns}")
            return "skip"

        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=self.names, use_threads=False,
                                          block_size=max(len(data), 1 << 16)),
            parse_options=pcsv.ParseOptions(invalid_row_handler=invalid,
                                            ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(self.names, pa.string()),
                strings_can_be_null=False, quoted_strings_can_be_null=False))
        kept = np.arange(1, lines + 1, dtype=np.int64)
        if odd:
            kept = kept[~np.isin(kept, np.fromiter(odd, np.int64))]
            bad = sorted((k, m) for k, m in odd.items() if m)
            if bad:
                rows = np.array([first + k - 1 for k, _ in bad], np.int64)
                msgs = [m for _, m in bad]
                self.problems.add(np.ones(len(bad), bool), rows, "row", "format",
                                  lambda i: msgs[i], lambda r, f: ["rows", r])
        rows = first + kept - 1
        cols = {c: table.column(c).combine_chunks() if c in self.names
                else pa.nulls(table.num_rows, pa.string()) for c in COLUMNS}
        blank = np.ones(table.num_rows, dtype=bool)
        for c in self.names:
            blank &= pc.equal(pc.binary_length(cols[c]), 0).to_numpy(zero_copy_only=False)
        if blank.any():  # an empty line: keeps its number, holds no reading
            keep = pa.array(~blank)
            cols = {c: a.filter(keep) for c, a in cols.items()}
            rows = rows[~blank]
        if len(rows):
            yield cols, rows


def file_chunks(path: Path, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def parquet_batches(path: Path, batch_rows: int = PARQUET_BATCH_ROWS) -> Iterator[Batch]:
    """Row batches of a Parquet file with the CSV's column names (typed or as strings)."""
    pf = pq.ParquetFile(path)
    names = check_columns(list(pf.schema_arrow.names), "schema")
    first = 1
    for rb in pf.iter_batches(batch_size=batch_rows, columns=names):
        n = rb.num_rows
        cols = {c: rb.column(c) if c in names else pa.nulls(n, pa.string()) for c in COLUMNS}
        yield cols, np.arange(first, first + n, dtype=np.int64)
        first += n
