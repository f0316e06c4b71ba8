#!/usr/bin/env python3
"""ClickHouse's HTTP interface in front of chDB, for the test suite.

PyPI's chdb-core ships a current ClickHouse engine as a library, without a server. This script
serves the part of ClickHouse's HTTP interface that spurlos's ClickHouse store uses, so that the
integration tests run on a current ClickHouse as well as on Debian's clickhouse-server 18.16:

* `POST /` (or `GET /`) with the query in the `query` parameter and/or the body, `database`,
  and settings as further parameters; answers in the query's `FORMAT`, else `default_format`,
  else TabSeparated;
* `INSERT INTO t (cols) FORMAT RowBinary` with the rows in the body (plain or chunked): the rows
  go through a temporary file and `file()`, since chDB takes queries as text;
* errors as ClickHouse answers them: status 500 and `Code: N. DB::Exception: ...` as the body.

Queries run one at a time (one chDB session). Compression is not spoken: spurlos runs with
SPURLOS_CLICKHOUSE_COMPRESSION=none against it.

Usage: chdb-server.py --port PORT --path DATA_DIR   (prints "url http://127.0.0.1:PORT" when up)
"""

import argparse
import os
import re
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

from chdb import session as chdb_session

# Parameters that are not settings.
NOT_SETTINGS = {
    "query", "database", "user", "password", "compress", "decompress", "default_format",
    "query_id", "session_id", "session_timeout", "wait_end_of_query", "buffer_size",
    "enable_http_compression", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
}
INSERT = re.compile(
    r"^\s*INSERT\s+INTO\s+([\w.`]+)\s*(?:\(([^)]*)\))?\s*FORMAT\s+(\w+)\s*$", re.I | re.S
)
TRAILING_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.I)
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Engine:
    """One chDB session, used by one request at a time."""

    def __init__(self, path):
        self.session = chdb_session.Session(path)
        self.lock = threading.Lock()
        self.tmp = tempfile.mkdtemp(prefix="chdb-insert-", dir=path)

    def run(self, sql, fmt="TabSeparated"):
        result = self.session.query(sql, fmt)
        return result.bytes() if result is not None else b""

    def execute(self, params, body):
        database = params.get("database")
        with self.lock:
            self.run("USE " + quote_ident(database) if database else "USE default")
            for name, value in params.items():
                if name in NOT_SETTINGS or name.startswith("param_"):
                    continue
                if not SETTING_NAME.match(name):
                    raise ValueError(f"Code: 115. DB::Exception: Unknown setting {name}")
                self.run(f"SET {name} = {literal(value)}")
            query = params.get("query")
            if query is not None and body:
                m = INSERT.match(query)
                if m:
                    return self.insert(database, m.group(1), m.group(2), m.group(3), body)
                query = query + " " + body.decode("utf-8")
            elif query is None:
                query = body.decode("utf-8")
            fmt = params.get("default_format") or "TabSeparated"
            m = TRAILING_FORMAT.search(query)
            if m:
                fmt = m.group(1)
                query = query[: m.start()]
            return self.run(query, fmt)

    def insert(self, database, table, columns, fmt, body):
        db, _, name = table.replace("`", "").rpartition(".")
        db = db or database or "default"
        types = dict(
            line.split("\t", 1)
            for line in self.run(
                f"SELECT name, type FROM system.columns WHERE database = {literal(db)} "
                f"AND table = {literal(name)} ORDER BY position"
            ).decode("utf-8").splitlines()
            if "\t" in line
        )
        if not types:
            raise ValueError(f"Code: 60. DB::Exception: Table {db}.{name} does not exist")
        cols = [c.strip().strip("`") for c in columns.split(",")] if columns else list(types)
        structure = ", ".join(f"`{c}` {types[c]}" for c in cols)
        fd, path = tempfile.mkstemp(dir=self.tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            col_list = ", ".join(f"`{c}`" for c in cols)
            self.run(
                f"INSERT INTO {quote_ident(db)}.{quote_ident(name)} ({col_list}) "
                f"SELECT * FROM file({literal(path)}, {literal(fmt)}, {literal(structure)})"
            )
        finally:
            os.unlink(path)
        return b""


def quote_ident(name):
    return "`" + name.replace("`", "") + "`"


def literal(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read_body(handler):
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if status != 200:
            code = re.search(rb"Code: (\d+)", body)
            self.send_header("X-ClickHouse-Exception-Code", code.group(1).decode() if code else "1")
        self.end_headers()
        self.wfile.write(body)

    def handle_query(self):
        url = urlparse(self.path)
        if url.path in ("/ping", "/ping/"):
            return self.answer(200, b"Ok.\n")
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        body = read_body(self)
        if os.environ.get("CHDB_SERVER_LOG"):
            print(params, body[:300], flush=True)
        try:
            self.answer(200, self.engine.execute(params, body))
        except Exception as e:  # chDB raises RuntimeError with ClickHouse's own message
            text = str(e)
            if "Code:" not in text:
                text = "Code: 1000. DB::Exception: " + text
            self.answer(500, text.encode("utf-8", "replace") + b"\n")

    do_GET = handle_query
    do_POST = handle_query


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", required=True, help="chDB data directory")
    args = ap.parse_args()
    os.makedirs(args.path, exist_ok=True)
    Handler.engine = Engine(args.path)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"url http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
