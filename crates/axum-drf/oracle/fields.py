"""Differential oracle for field validation, Python int() and pagination parameters.

Generates cases and answers each with the reference's own code run in-process (DRF's
CharField, EmailField, DateTimeField, PrimaryKeyRelatedField, Django's username rules,
LimitOffsetPagination and CPython's int()/str.strip()). Usage:

    python fields.py OUT.jsonl SEED SCALE

Lone surrogates in strings are shifted by 0x100000, as lendbook's JSON parser stores them.
"""
import io
import json
import random
import sys
from urllib.parse import quote_plus

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="x",
    ALLOWED_HOSTS=["*"],
    USE_TZ=True,
    TIME_ZONE="UTC",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    REST_FRAMEWORK={"PAGE_SIZE": 100},
)
django.setup()

from django.contrib.auth.base_user import AbstractBaseUser  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.auth.validators import UnicodeUsernameValidator  # noqa: E402
from django.core.handlers.wsgi import WSGIRequest  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.pagination import LimitOffsetPagination  # noqa: E402
from rest_framework.request import Request  # noqa: E402

call_command("migrate", verbosity=0)
for i in (1, 2, 3):
    User.objects.create(id=i, username=f"u{i}")

SHIFT = 0x100000


def shift(s):
    return "".join(chr(ord(c) + SHIFT) if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def unshift(v):
    if isinstance(v, str):
        return "".join(chr(ord(c) - SHIFT) if 0x10D800 <= ord(c) <= 0x10DFFF else c for c in v)
    return v


def errors(exc):
    detail = exc.detail
    return {"errors": [shift(str(m)) for m in detail]}


def run(field, value):
    try:
        return {"ok": field.run_validation(unshift(value))}
    except serializers.ValidationError as e:
        return errors(e)


def char_case(c):
    f = serializers.CharField(**c["opts"])
    r = run(f, c["value"])
    if "ok" in r:
        r["ok"] = shift(r["ok"]) if r["ok"] is not None else None
    return r


def email_case(c):
    r = run(serializers.EmailField(**c["opts"]), c["value"])
    if "ok" in r:
        r["ok"] = shift(r["ok"])
    return r


def datetime_case(c):
    f = serializers.DateTimeField()
    r = run(f, c["value"])
    if "ok" in r:
        r["ok"] = f.to_representation(r["ok"])
    return r


def pk_case(c):
    f = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    r = run(f, c["value"])
    if "ok" in r:
        r["ok"] = r["ok"].pk
    return r


def username_case(c):
    f = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    r = run(f, c["value"])
    if "ok" in r:
        r["ok"] = shift(AbstractBaseUser.normalize_username(r["ok"]))
    return r


def int_case(c):
    try:
        return {"ok": str(int(unshift(c["value"])))}
    except ValueError:
        return {"error": True}


def strip_case(c):
    return {"ok": shift(unshift(c["value"]).strip())}


def page_case(c):
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": c["path"],
        "QUERY_STRING": c["query"],
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
    }
    req = Request(WSGIRequest(env))
    p = LimitOffsetPagination()
    results = p.paginate_queryset(list(range(c["count"])), req)
    data = p.get_paginated_response(results).data
    first = results[0] if results else None
    return {"next": data["next"], "previous": data["previous"], "n": len(results), "first": first}


KINDS = {
    "char": char_case, "email": email_case, "datetime": datetime_case, "pk": pk_case,
    "username": username_case, "int": int_case, "strip": strip_case, "page": page_case,
}

rng = random.Random(int(sys.argv[2]))
SCALE = float(sys.argv[3])
out = open(sys.argv[1], "w")


def N(n):
    return max(1, int(n * SCALE))


def emit(**case):
    want = KINDS[case["kind"]](case)
    out.write(json.dumps({"case": case, "want": want}, ensure_ascii=True) + "\n")


SPACES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0",
          "\u1680", "\u2000", "\u200a", "\u200b", "\u2028", "\u2029", "\u202f", "\u205f",
          "\u3000", "\ufeff", "\u180e", "\x00", "\x01"]
TEXT = ["a", "B", "é", "ß", "ﬁ", "Ａ", "１", "٣", "²", "😀", "\ud800", "\udfff", "\udbff", "\x00",
        "@", ".", "+", "-", "_", " ", "'", '"', "\\", "/", "İ", "K", "Ω", "ǅ", "ｶ", "\u0301"]

# CharField and strip: whitespace and odd characters at both ends and inside.
for _ in range(N(3000)):
    s = "".join(rng.choice(SPACES + TEXT) for _ in range(rng.randint(0, 6)))
    emit(kind="strip", value=shift(s))
    opts = rng.choice([{}, {}, {"allow_blank": True}, {"trim_whitespace": False},
                       {"max_length": 3}, {"allow_null": True},
                       {"allow_blank": True, "trim_whitespace": False}])
    emit(kind="char", value=shift(s), opts=opts)
for v in [None, True, False, 0, 1, -1, 1.5, 1e16, 1e-7, 12345678901234567890, [], ["a"], {},
          {"a": 1}, -0.0, 3.0]:
    for opts in [{}, {"allow_null": True}, {"allow_blank": True}]:
        emit(kind="char", value=v, opts=opts)

# int(): signs, spaces, underscores, Unicode digits, long strings.
IPARTS = ["0", "1", "7", "9", "_", "-", "+", " ", "\t", "\x1c", "\u3000", "٣", "１", "²", "a", "e",
          ".", "x", "\x00", "\u2007", "\U0001D7CE", "\u0e51"]
for _ in range(N(4000)):
    emit(kind="int", value="".join(rng.choice(IPARTS) for _ in range(rng.randint(0, 8))))
for s in ["9223372036854775807", "9223372036854775808", "-9223372036854775808",
          "-9223372036854775809", "1" * 4300, "1" * 4301, "0" * 4301, "1_" * 4300 + "1",
          "1_" * 2150 + "1", " " * 50 + "5", "0_0", "-0", "+0", "00"]:
    emit(kind="int", value=s)

# EmailField.
LOCAL = ["a", "b.c", "a+b", "x_y", "\"q t\"", "\"a\\\"b\"", "a..b", ".a", "a.", "é", "ü", "A",
         "!#$%&'*+/=?^_`{|}~-", "a b", "\x00", "", "\"\"", "\"\\\x01\"", "ß"]
DOMAIN = ["example.com", "EXAMPLE.COM", "localhost", "[127.0.0.1]", "[::1]", "[IPv6:::1]",
          "[1.2.3]", "a", "a-.com", "-a.com", "a.b", "b.co", "xn--bcher-kva.example",
          "bücher.example", "ex_ample.com", "a." + "b" * 63, "a." + "b" * 64, "example.com.",
          "1.2.3.4", "[256.1.1.1]", "ex ample.com", "e.c0m", "e.123", "münchen.de", "例え.テスト",
          "a" * 64 + ".com", "sub.-a.com", "a.b-", "x.y\n", "e.com\n"]
for _ in range(N(2500)):
    local = "".join(rng.choice(LOCAL) for _ in range(rng.randint(1, 3)))
    dom = rng.choice(DOMAIN)
    sep = rng.choice(["@"] * 8 + ["@@", "", "＠"])
    v = local + sep + dom
    if rng.random() < 0.15:
        v = rng.choice(SPACES) + v + rng.choice(SPACES)
    if rng.random() < 0.05:
        v = "a" * rng.choice([60, 64, 65, 250]) + "@example.com"
    emit(kind="email", value=shift(v), opts=rng.choice([{}, {"allow_blank": True}]))
for v in [None, 1, True, [], "", " ", "a@" + "b" * 250 + ".com", "x" * 64 + "@" + "y" * 251 + ".c"]:
    emit(kind="email", value=v, opts={})

# DateTimeField: fromisoformat and Django's regex, offsets, calendar ends.
YEARS = ["2024", "0001", "9999", "1970", "0000", "2000", "1900", "١٩٧٠", "20245", "202"]
MD = ["-01-02", "-02-29", "-02-30", "-12-31", "-1-2", "-13-01", "-00-10", "0102", "-W01",
      "-W01-1", "-001", "-366", "-12", "-1-02", "-01-2", "-٠١-٠٢"]
SEP = ["T", " ", "t", "x", "_", "", "  ", "\n"]
TIME = ["00:00", "23:59:59", "24:00", "24:00:00", "12", "1230", "123045", "12:30:45.1",
        "12:30:45.123456", "12:30:45.1234567", "12:30:45,5", "12:30:45.", "1:2", "1:02:03",
        "12:30:60", "12:30:45.123456789", "25:00", "12:3", "12:30:4", "23:59:59.999999",
        "12:30.5", "12.5", "١٢:٣٠", "12:30:45.000"]
TZ = ["", "", "Z", "z", "+00:00", "-00:00", "+01:00", "-01:00", "+0530", "+05", "+24:00",
      "+23:59", "-23:59", "+01:30:45", "+01:30:45.123", "+1", "+01:", "+0100", " +01:00",
      "+99:99", "+23:99", " Z", "UTC", "+00:00:00.000001", "-12:00", "+14:00", "  Z", "Z\n"]
for _ in range(N(6000)):
    if rng.random() < 0.1:
        s = "".join(rng.choice(YEARS + MD + SEP + TIME + TZ) for _ in range(rng.randint(1, 5)))
    else:
        s = rng.choice(YEARS) + rng.choice(MD)
        if rng.random() < 0.85:
            s += rng.choice(SEP) + rng.choice(TIME) + rng.choice(TZ)
    if rng.random() < 0.05:
        s = rng.choice(SPACES) + s
    emit(kind="datetime", value=s)
for v in [None, 0, 1700000000, 1.5, True, [], {}, "", " ", "2024-01-02T03:04:05Z" * 2,
          "0001-01-01T00:00:00+00:01", "0001-01-01T00:00:00-00:01", "9999-12-31T23:59:59-00:01",
          "9999-12-31T23:59:59+00:01", "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00Z",
          "0001-01-01", "9999-12-31", "0001-01-01T00:59+01:00", "0001-01-01T01:00+01:00"]:
    emit(kind="datetime", value=v)

# PrimaryKeyRelatedField (rows 1, 2 and 3 exist).
PKS = ["1", "2", "3", "4", " 1", "1 ", "+1", "-1", "0", "01", "1_0", "1.0", "1e0", "١", "１",
       "9" * 20, "-" + "9" * 20, "", " ", "a", "0x1", "true", "null", "1" * 4301, "\x001"]
for s in PKS:
    emit(kind="pk", value=s)
for v in [1, 2, 3, 4, 0, -1, 1.0, 1.5, 2.9, -0.5, 1e20, 9223372036854775807,
          9223372036854775808, True, False, None, [], [1], {}, {"id": 1}]:
    emit(kind="pk", value=v)
for _ in range(N(400)):
    emit(kind="pk", value="".join(rng.choice(IPARTS) for _ in range(rng.randint(1, 5))))

# Username: the model field's rules and NFKC normalisation.
for _ in range(N(2000)):
    s = "".join(rng.choice(TEXT + ["x", "y", "z", "Ⅸ", "ｽ", "①", "ª", "ᴬ", "\u00ad", "\u200d",
                                   "𝐀", "Å", "Å", "ℌ", "ﹰ"]) for _ in range(rng.randint(0, 6)))
    if rng.random() < 0.1:
        s = rng.choice(SPACES) + s + rng.choice(SPACES)
    emit(kind="username", value=shift(s))
for v in ["a" * 150, "a" * 151, "ﬁ" * 76, None, 5, "a\n", "\na"]:
    emit(kind="username", value=v)

# Pagination parameters: Python int semantics, huge values, links with format suffixes.
VALS = [None, "", "0", "1", "2", "5", "10", "99", "100", "101", "-1", "-0", " 3", "3 ", "+4",
        "1_0", "٣", "１", "abc", "1.5", "1e2", "9" * 19, "9" * 20, "9" * 40, "1" * 4301,
        "9223372036854775807", "9223372036854775808", "\x1c2", "2\u3000"]
PATHS = ["/api/v1/friends/", "/api/v1/friends.json", "/api/v1/friends.json/",
         "/api/v1/friends.api"]
EXTRA = ["", "a=1", "a=x+y", "z=%FF", "b=&a=", "limit=7&limit=8", "offset=1&offset=", "q=%C3%A9",
         "a=1;b=2", "k"]
for _ in range(N(3000)):
    parts = []
    lim, off = rng.choice(VALS), rng.choice(VALS)
    if lim is not None:
        parts.append("limit=" + quote_plus(lim))
    if off is not None:
        parts.append("offset=" + quote_plus(off))
    extra = rng.choice(EXTRA)
    if extra:
        parts.insert(rng.randint(0, len(parts)), extra)
    emit(kind="page", path=rng.choice(PATHS), query="&".join(parts),
         count=rng.choice([0, 1, 3, 10, 99, 100, 101, 250]))
