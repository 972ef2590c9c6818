"""The official Python elasticsearch client through the Portcullis gateway.

Usage: client.py GATEWAY_URL USER PASSWORD LOGS_INDEX OTHER_INDEX

USER holds a role with manage_own_api_key and read on logs-*. Prints one
line per check and exits non-zero when any check fails.
"""

import sys

import elasticsearch
from elasticsearch import (
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
)

url, user, password, logs, other = sys.argv[1:6]
failures = 0


def check(name, fn):
    global failures
    try:
        detail = fn()
        print(f"ok   {name}" + (f": {detail}" if detail else ""))
    except Exception as e:  # noqa: BLE001 - every failure is reported
        failures += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")


def expect(exc, status, fn):
    """Runs fn; passes when it raises exc with status."""

    def run():
        try:
            r = fn()
        except exc as e:
            if e.meta.status != status:
                raise AssertionError(f"status {e.meta.status}, want {status}")
            return f"{type(e).__name__} {e.meta.status}: {str(e)[:160]}"
        raise AssertionError(f"no {exc.__name__}; got {str(r)[:300]}")

    return run


def hits(r):
    n = r["hits"]["total"]["value"]
    if n < 1:
        raise AssertionError(f"{n} hits")
    return f"{n} hits"


print(f"elasticsearch-py {elasticsearch.__versionstr__}")
basic = Elasticsearch(url, basic_auth=(user, password))

# An API key: created, used, invalidated.
key = {}


def create_key():
    r = basic.security.create_api_key(name="pyclient-key", expiration="1h")
    for f in ("id", "api_key", "encoded"):
        if not r.get(f):
            raise AssertionError(f"no {f} in {r}")
    key.update(r.body)
    return f"id {r['id']}"


check("security.create_api_key", create_key)
if key:
    with_key = Elasticsearch(url, api_key=key["encoded"])
    check("search with the API key", lambda: hits(with_key.search(index=logs)))

    def invalidate():
        r = basic.security.invalidate_api_key(ids=[key["id"]], owner=True)
        if r["invalidated_api_keys"] != [key["id"]]:
            raise AssertionError(str(r))
        return f"invalidated {r['invalidated_api_keys']}"

    check("security.invalidate_api_key", invalidate)
    check(
        "search with the invalidated key",
        expect(AuthenticationException, 401, lambda: with_key.search(index=logs)),
    )

# The role's index privileges, as the Basic user.
check("search logs", lambda: hits(basic.search(index=logs)))
check("search logs-*", lambda: hits(basic.search(index="logs-*")))
check(
    "index into logs",
    expect(AuthorizationException, 403, lambda: basic.index(index=logs, document={"msg": "x"})),
)
check(
    "search other",
    expect(AuthorizationException, 403, lambda: basic.search(index=other)),
)


def bulk_other():
    try:
        r = basic.bulk(operations=[{"index": {"_index": other}}, {"msg": "x"}])
    except AuthorizationException as e:
        return f"AuthorizationException {e.meta.status}"
    items = r["items"]
    st = [next(iter(i.values()))["status"] for i in items]
    if not r["errors"] or st != [403]:
        raise AssertionError(f"bulk answered {r}")
    return f"item status {st}"


check("bulk into other", bulk_other)


def msearch_other():
    try:
        r = basic.msearch(searches=[{"index": logs}, {}, {"index": other}, {}])
    except AuthorizationException as e:
        return f"AuthorizationException {e.meta.status}"
    st = [x.get("status") for x in r["responses"]]
    if 403 not in st:
        raise AssertionError(f"msearch answered {r}")
    return f"response statuses {st}"


check("msearch with other", msearch_other)


def mget_other():
    # As in Elasticsearch: the doc fails alone, with a security_exception.
    r = basic.mget(docs=[{"_index": logs, "_id": "1"}, {"_index": other, "_id": "1"}])
    docs = r["docs"]
    if len(docs) != 2 or not docs[0].get("found") or docs[1].get("error", {}).get("type") != "security_exception":
        raise AssertionError(f"mget answered {r}")
    return "doc 1 error security_exception"


check("mget other", mget_other)


def search_all():
    # Elasticsearch narrows a search of all indices to those the user may
    # read: hits from logs-* only, never from other.
    r = basic.search(query={"terms": {"_index": [logs, other]}})
    seen = sorted({h["_index"] for h in r["hits"]["hits"]})
    if seen != [logs]:
        raise AssertionError(f"hits in {seen}, want [{logs}]")
    return f"narrowed to {seen}"


check("/_search without an index", search_all)

print("FAILED" if failures else "PASSED", f"({failures} failures)")
sys.exit(1 if failures else 0)
