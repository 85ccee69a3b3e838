#!/usr/bin/env python3
"""Seeds a lendbook or DRF-reference server for bench/run.sh (Python 3 stdlib only).

  seed.py http --url URL --creds FILE [--users N] [--friends F] [--belongings B]
               [--borrowings W] [--prefix P] [--password PW] [--workers K]
               [--sqlite DB]
      Creates N users with F friends, B belongings and W borrowings each, through the
      HTTP API, and writes one line per user to FILE:
          username <TAB> password <TAB> token <TAB> sessionid
      Users: POST /api/auth/users/ (djoser). With --sqlite DB (lendbook only, the server's
      own SQLite file), only the first user is registered through the API and the others
      are cloned from its row in SQL (same password hash), which skips N-1 password hashes.
      --pg URL does the same on lendbook's PostgreSQL database (through psql).
      Tokens and session ids: POST /api/login/ per user (one password hash each; they
      cannot be made in SQL, the server derives them from its secret and stores hashes).
      Lending: POST /api/v1/friends/ {"name"}, /api/v1/belongings/ {"name"},
      /api/v1/borrowings/ {"what": belonging id, "to_who": friend id}. When the server
      answers 404 on /api/v1/friends/, the lending part is skipped and reported.
      Prints one JSON summary line on stdout (progress goes to stderr).

  seed.py grow --sqlite DB --total N [--table NAME]
      Grows the borrowings table to N rows by copying existing rows (every column but the
      primary key) in SQL, so each user keeps the same mix of loans, only more of them: when N
      is a multiple of the current count (1,000,000 = 50 x 1,000 users x 20), every user ends
      up with exactly N / users loans; a remainder is a pseudo-random spread of extra copies.
      Run it while the server is stopped. The table is the one whose name contains
      "borrow" (or --table).
"""

import argparse
import http.client
import json
import sqlite3
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor


def log(msg):
    print(f"seed.py: {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive connection per thread; reconnects when the server closes it
    (gunicorn's sync workers close after every response)."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        if u.scheme != "http":
            raise SystemExit(f"seed.py: only http:// URLs are supported, not {base}")
        self.host = u.hostname
        self.port = u.port or 80
        self.prefix = u.path.rstrip("/")
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.local.conn = c
        return c

    def request(self, method, path, body=None, headers=None):
        hdrs = {"Accept": "application/json"}
        if headers:
            hdrs.update(headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        for attempt in range(3):
            c = self._conn()
            try:
                c.request(method, self.prefix + path, body=data, headers=hdrs)
                r = c.getresponse()
                payload = r.read()
                if r.will_close:
                    c.close()
                    self.local.conn = None
                return r.status, r.getheaders(), payload
            except (http.client.HTTPException, ConnectionError, OSError):
                c.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")


def expect(status, payload, ok, what):
    if status not in ok:
        raise RuntimeError(f"{what}: HTTP {status} {payload[:300]!r}")
    return json.loads(payload) if payload else None


def session_cookie(headers):
    for k, v in headers:
        if k.lower() == "set-cookie" and v.startswith("sessionid="):
            return v.split(";", 1)[0].split("=", 1)[1]
    return ""


def parallel(workers, fn, items, label):
    t0 = time.monotonic()
    out = [None] * len(items)
    done = 0
    lock = threading.Lock()

    def run(i):
        nonlocal done
        out[i] = fn(items[i])
        with lock:
            done += 1
            if done % max(1, len(items) // 10) == 0 or done == len(items):
                log(f"  {label}: {done}/{len(items)} ({time.monotonic() - t0:.1f}s)")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for f in [pool.submit(run, i) for i in range(len(items))]:
            f.result()
    return out, time.monotonic() - t0


def clone_users_sql(db_path, template_username, usernames, email_of):
    """Copies the template user's row (password hash included) once per username."""
    con = sqlite3.connect(db_path, timeout=30)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(auth_user)")]
        if not cols:
            raise SystemExit(f"seed.py: no auth_user table in {db_path}")
        copied = [c for c in cols if c not in ("id", "username", "email")]
        sql = (
            f"INSERT INTO auth_user (username, email, {', '.join(copied)}) "
            f"SELECT ?, ?, {', '.join(copied)} FROM auth_user WHERE username = ?"
        )
        with con:
            con.executemany(sql, [(u, email_of(u), template_username) for u in usernames])
    finally:
        con.close()


def login_all(cli, workers, names, password, creds_path):
    """Logs every user in through POST /api/login/ (a token and a session each; one password
    check per user) and writes FILE's lines; returns [(token, sessionid)] and the seconds."""

    def login(u):
        st, hdrs, body = cli.request("POST", "/api/login/", {"username": u, "password": password})
        j = expect(st, body, (200,), f"login {u}")
        return j["token"], session_cookie(hdrs)

    creds, dt = parallel(workers, login, names, "login")
    missing = sum(1 for _, s in creds if not s)
    if missing:
        log(f"warning: {missing} logins set no sessionid cookie")
    with open(creds_path, "w") as f:
        for u, (tok, sid) in zip(names, creds):
            f.write(f"{u}\t{password}\t{tok}\t{sid}\n")
    log(f"wrote {len(names)} credentials to {creds_path}")
    return creds, dt


def creator(cli, token, who):
    """A function that POSTs a JSON body to a path with `token`, expects 201 and returns the
    created object."""
    h = {"Authorization": f"Token {token}"}

    def create(path, body):
        st, _, payload = cli.request("POST", path, body, h)
        return expect(st, payload, (201,), f"POST {path} as {who}")

    return create


def clone_users_pg(url, template_username, usernames, email_of):
    """clone_users_sql on PostgreSQL, through psql (no driver needed)."""
    import subprocess

    cols = subprocess.run(
        ["psql", url, "-Atc", "SELECT column_name FROM information_schema.columns "
         "WHERE table_name = 'auth_user' ORDER BY ordinal_position"],
        check=True, capture_output=True, text=True).stdout.split()
    if not cols:
        raise SystemExit(f"seed.py: no auth_user table in {url}")
    copied = [c for c in cols if c not in ("id", "username", "email")]
    values = ",".join(f"('{u}', '{email_of(u)}')" for u in usernames)
    sql = (
        f"INSERT INTO auth_user (username, email, {', '.join(copied)}) "
        f"SELECT v.u, v.e, {', '.join('t.' + c for c in copied)} FROM auth_user t, "
        f"(VALUES {values}) AS v(u, e) WHERE t.username = '{template_username}'"
    )
    subprocess.run(["psql", url, "-qv", "ON_ERROR_STOP=1"], input=sql, check=True, text=True,
                   capture_output=True)


def cmd_http(a):
    cli = Client(a.url)
    names = [f"{a.prefix}{i:06d}" for i in range(a.users)]
    email_of = lambda u: f"{u}@bench.example.com"  # noqa: E731
    summary = {"url": a.url, "users": a.users}
    t_all = time.monotonic()

    def register(u):
        st, _, body = cli.request(
            "POST", "/api/auth/users/", {"username": u, "password": a.password, "email": email_of(u)}
        )
        if st == 400 and b"already exists" in body:
            return "existed"
        expect(st, body, (201,), f"register {u}")
        return "created"

    # 1. users
    if a.sqlite or a.pg:
        register(names[0])
        t0 = time.monotonic()
        if a.pg:
            clone_users_pg(a.pg, names[0], names[1:], email_of)
        else:
            clone_users_sql(a.sqlite, names[0], names[1:], email_of)
        log(f"users: 1 registered over HTTP, {len(names) - 1} cloned in SQL ({time.monotonic() - t0:.1f}s)")
        summary["users_via"] = "sql-clone"
    else:
        res, dt = parallel(a.workers, register, names, "register")
        existed = res.count("existed")
        if existed:
            log(f"users: {existed} already existed (same password assumed)")
        summary["users_via"] = "http"
        summary["register_s"] = round(dt, 1)

    # 2. tokens + sessions (one password check per user)
    creds, dt = login_all(cli, a.workers, names, a.password, a.creds)
    summary["login_s"] = round(dt, 1)

    # 3. lending rows
    auth0 = {"Authorization": f"Token {creds[0][0]}"}
    st, _, body = cli.request("GET", "/api/v1/friends/", headers=auth0)
    if st == 404:
        log("lending: GET /api/v1/friends/ answers 404: no lending endpoints, skipped")
        summary["lending"] = False
    else:
        expect(st, body, (200,), "GET /api/v1/friends/")
        summary["lending"] = True

        def seed_user(i):
            create = creator(cli, creds[i][0], names[i])
            friends = [create("/api/v1/friends/", {"name": f"friend {k}"})["id"] for k in range(a.friends)]
            things = [create("/api/v1/belongings/", {"name": f"thing {k}"})["id"] for k in range(a.belongings)]
            if a.borrowings and (not friends or not things):
                raise RuntimeError("borrowings need at least one friend and one belonging")
            for k in range(a.borrowings):
                create("/api/v1/borrowings/", {"what": things[k % len(things)], "to_who": friends[k % len(friends)]})
            return a.friends + a.belongings + a.borrowings

        counts, dt = parallel(a.workers, seed_user, list(range(a.users)), "lending rows")
        summary["lending_rows"] = sum(counts)
        summary["lending_s"] = round(dt, 1)
        summary["lending_rows_per_s"] = round(sum(counts) / dt, 1) if dt else None
    summary["total_s"] = round(time.monotonic() - t_all, 1)
    print(json.dumps(summary))


def cmd_grow(a):
    con = sqlite3.connect(a.sqlite, timeout=30)
    try:
        if a.table:
            table = a.table
        else:
            rows = con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%borrow%'"
            ).fetchall()
            if len(rows) != 1:
                raise SystemExit(
                    f"seed.py: expected one table named like '%borrow%' in {a.sqlite}, found "
                    f"{[r[0] for r in rows]} (pass --table)"
                )
            table = rows[0][0]
        info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
        pk = [r[1] for r in info if r[5]]
        cols = ", ".join(f'"{r[1]}"' for r in info if not r[5])
        have = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        if have == 0:
            raise SystemExit(f"seed.py: {table} is empty; seed some borrowings first")
        t0 = time.monotonic()
        order = ", ".join(f'"{c}"' for c in pk) or "rowid"
        key = f'"{pk[0]}"' if len(pk) == 1 else "rowid"
        base_max = con.execute(f'SELECT MAX({key}) FROM "{table}"').fetchone()[0]
        copies = a.total // have - 1
        rest = a.total - have * (copies + 1)
        with con:
            if copies > 0:  # every existing row copied `copies` times: each owner keeps its share
                con.execute(
                    f'WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < ?) '
                    f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{table}", n '
                    f'WHERE {key} <= ? ORDER BY k, {order}',
                    (copies, base_max),
                )
            if rest > 0:  # the remainder: a pseudo-random, evenly spread subset of the originals
                con.execute(
                    f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{table}" WHERE {key} <= ? '
                    f'ORDER BY ({key} * 2654435761) % 4294967296 LIMIT ?',
                    (base_max, rest),
                )
        have = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        con.execute("ANALYZE")
        log(f"grow: {table} now has {have} rows ({time.monotonic() - t0:.1f}s)")
        print(json.dumps({"table": table, "rows": have}))
    finally:
        con.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("http")
    h.add_argument("--url", required=True)
    h.add_argument("--creds", required=True)
    h.add_argument("--users", type=int, default=1000)
    h.add_argument("--friends", type=int, default=20)
    h.add_argument("--belongings", type=int, default=20)
    h.add_argument("--borrowings", type=int, default=20)
    h.add_argument("--prefix", default="bench")
    h.add_argument("--password", default="Lend-Bench-pw-7319")
    h.add_argument("--workers", type=int, default=8)
    h.add_argument("--sqlite", help="lendbook's SQLite file: clone users in SQL")
    h.add_argument("--pg", help="lendbook's PostgreSQL URL: clone users in SQL (psql)")
    g = sub.add_parser("grow")
    g.add_argument("--sqlite", required=True)
    g.add_argument("--total", type=int, required=True)
    g.add_argument("--table")
    a = p.parse_args()
    if a.cmd == "http":
        if a.users < 1:
            raise SystemExit("seed.py: --users must be at least 1")
        cmd_http(a)
    else:
        cmd_grow(a)


if __name__ == "__main__":
    main()
