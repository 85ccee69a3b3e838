#!/usr/bin/env python3
"""Seeds a notes-api server for bench/notes_vs_lendbook.sh (Python 3 stdlib only), the way
seed.py seeds lendbook (whose helpers it uses):

  seed_notes.py --url URL --creds FILE --sqlite DB --bin NOTES_API [--users N]
                [--notebooks B] [--notes K] [--prefix P] [--password PW] [--workers W]

The first user is created with `notes-api createuser` (one password hash) and the others
are cloned from its row in SQL; each logs in once through POST /api/login/ (token and
session), and creates B notebooks and K notes (spread over the notebooks) through the API.
FILE gets one line per user: username <TAB> password <TAB> token <TAB> sessionid.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import Client, clone_users_sql, creator, log, login_all, parallel  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--creds", required=True)
    p.add_argument("--sqlite", required=True)
    p.add_argument("--bin", required=True)
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--notebooks", type=int, default=2)
    p.add_argument("--notes", type=int, default=20)
    p.add_argument("--prefix", default="n")
    p.add_argument("--password", default="Notes-Bench-pw-7319")
    p.add_argument("--workers", type=int, default=8)
    a = p.parse_args()

    names = [f"{a.prefix}{i:06d}" for i in range(a.users)]
    email_of = lambda u: f"{u}@bench.example.com"  # noqa: E731
    t_all = time.monotonic()
    env = dict(os.environ, NOTES_PASSWORD=a.password, NOTES_DATABASE_URL=f"sqlite://{a.sqlite}")
    subprocess.run([a.bin, "createuser", names[0], email_of(names[0])], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    clone_users_sql(a.sqlite, names[0], names[1:], email_of)

    cli = Client(a.url)

    creds, login_s = login_all(cli, a.workers, names, a.password, a.creds)

    def seed_user(i):
        create = creator(cli, creds[i][0], names[i])
        books = [create("/api/notebooks/", {"title": f"notebook {k}"})["id"] for k in range(a.notebooks)]
        for k in range(a.notes):
            create("/api/notes/", {"notebook": books[k % len(books)], "title": f"note {k}", "body": "text"})
        return a.notebooks + a.notes

    counts, rows_s = parallel(a.workers, seed_user, list(range(a.users)), "notes rows")
    log(f"notes: {a.users} users, {sum(counts)} rows")
    print(json.dumps({"url": a.url, "users": a.users, "rows": sum(counts), "login_s": round(login_s, 1),
                      "rows_s": round(rows_s, 1), "total_s": round(time.monotonic() - t_all, 1)}))


if __name__ == "__main__":
    main()
