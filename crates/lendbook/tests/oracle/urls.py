"""Differential oracle for URL resolution: path spellings, ids, format suffixes, actions,
APPEND_SLASH redirects and unknown routes, answered by the reference project itself (its
URLconf, Django's resolver and middleware, DRF's views) through Django's test client on an
in-memory database. Usage:

    python urls.py REFERENCE_DIR OUT.jsonl SEED SCALE

Data: user "oracle" (id 1) owns friends 1-3, belongings 1-2 and borrowing 1 (belonging 1
lent to friend 1). Requests are anonymous or carry the user's token (`auth: true`).
"""
import json
import os
import random
import sys

sys.path.insert(0, sys.argv[1])
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
os.environ["LENDING_DB"] = ":memory:"

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()
settings.ALLOWED_HOSTS = ["localhost"]

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

call_command("migrate", verbosity=0)

from django.contrib.auth.models import User  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from lending.models import Belonging, Borrowed, Friend  # noqa: E402

user = User.objects.create_user("oracle", "oracle@example.com", "correct-Horse-7-battery")
token = Token.objects.create(user=user).key
for name in ("Ann", "Bob", "Cy"):
    Friend.objects.create(owner=user, name=name)
for name in ("Book", "Lamp"):
    Belonging.objects.create(owner=user, name=name)
Borrowed.objects.create(owner=user, what_id=1, to_who_id=1)

NOT_FOUND_PAGE = (
    '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n'
    "<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n"
    "</body>\n</html>\n"
)
client = Client(HTTP_HOST="localhost", raise_request_exception=False)
rng = random.Random(int(sys.argv[3]))
SCALE = float(sys.argv[4])
out = open(sys.argv[2], "w")
seen = set()


def ask(method, path, auth):
    if (method, path, auth) in seen:
        return
    seen.add((method, path, auth))
    extra = {"HTTP_AUTHORIZATION": f"Token {token}"} if auth else {}
    r = getattr(client, method.lower())(path, **extra)
    ct = r.get("Content-Type")
    body = r.content.decode("utf-8", "replace")
    if ct and ct.startswith("application/json") and body:
        body = json.loads(body)
    elif body == NOT_FOUND_PAGE:
        body = "<django-404-page>"  # recorded once, here, not 1,400 times
    elif r.status_code != 301:
        body = None  # rendered HTML pages (browsable API, error pages) are not compared
    out.write(json.dumps({
        "case": {"method": method, "path": path, "auth": auth},
        "want": {"status": r.status_code, "content_type": ct, "location": r.get("Location"),
                 "body": body},
    }) + "\n")


BASES = ["/api/v1/friends/", "/api/v1/belongings/", "/api/v1/borrowings/", "/api/auth/users/"]
IDS = ["1", "01", "001", "+1", "-1", "%2B1", "%201", "1%20", "%091", "1_0", "1__0", "0_1",
       "%D9%A1", "%EF%BC%91", "1.0", "1e0", "0", "2", "3", "4", "9" * 19, "9" * 20,
       "-" + "9" * 20, "9223372036854775807", "9223372036854775808", "abc", "me", "%00",
       "1%2F", "%31", "1%2e0", "%E2%80%831", "1%C2%A0", "%1C1", "1%0A", "%FF", "%C3", "1;x",
       "1=2", "1@", "(1)", "1%25", "%25", "~1", "1!", "%7E1", "1'"]
TAILS = ["/", "", ".json", ".json/", ".api", ".api/", ".xml", ".JSON", "./", "/.json",
         ".json.json", ".js%6Fn", "//", "/return/", "/return", "/return.json", "/return.json/",
         "/x/", ".j_son", "%2Ejson", ".json?format=api", "?format=json", "?format=xml"]
OTHER = ["/", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1.json", "/api/v1/.json",
         "/api/v1/.json/", "/api/v1/.api", "/api/auth", "/api/auth/", "/api/auth/.json",
         "/api/public", "/api/public/", "/api/public.json", "/api/public/.json",
         "/api/private/", "/api/private.json", "/api/login", "/api/login/", "/api/login.json",
         "/api/auth/users/me/", "/api/auth/users/me", "/api/auth/users/me.json",
         "/api/auth/users/me/.json", "/api/auth/users.json", "/api/auth/users/.json",
         "/api/auth/token/login", "/api/auth/token/login/", "/api/auth/token/login.json",
         "/api/v1/friends", "/api/v1/Friends/", "/api/v1/fri%65nds/", "/api/v1/friends%2F",
         "/api/v1/friends/?limit=1", "/api/v1/friends?limit=1&x=%20", "/api/v1/friends.json?limit=1",
         "/api/v1/friends.json/?limit=1&offset=1", "/api/v1//friends/", "//api/v1/friends/",
         "/api/v1/friends/%20", "/api/v1/friends/%20/", "/nope", "/nope/", "/api/nope",
         "/api/v1/nope/", "/api/v1/friends/1/x", "/api/v1/a%20b", "/api/v1/%C3%A9",
         "/api/v1/%E2%82%AC?q=%E2%82%AC", "/api/v1/a;b", "/api/v1/a%3Bb", "/api/v1/a+b",
         "/api/v1/a%2Bb", "/api/v1/%FF", "/api/v1/a'b", "/api/v1/a%25b",
         "/api/auth/users/activation", "/api/auth/users/reset_password",
         "/api/auth/users/set_password.json", "/api/auth/users/reset_password.json/",
         "/api/v1/borrowings.json?limit=1", "/api/auth/users.json?limit=1&offset=0"]

for path in OTHER:
    for auth in (False, True):
        ask("GET", path, auth)
for base in BASES:
    for i in IDS:
        for auth in (False, True):
            ask("GET", base + i + "/", auth)
        ask("GET", base + i, True)
        ask("GET", base + i + ".json", True)
for _ in range(int(3000 * SCALE)):
    base = rng.choice(BASES)
    path = base + rng.choice(IDS) + rng.choice(TAILS)
    ask(rng.choice(["GET"] * 6 + ["POST", "PUT", "DELETE"]) if "return" in path else "GET",
        path, rng.random() < 0.8)
for base in BASES:
    for tail in TAILS:
        ask("GET", base.rstrip("/") + tail, True)
        ask("POST", base.rstrip("/") + tail, False)
