#!/usr/bin/env python3
"""keys-diff: the same etcd-v2 keys-API requests to a real etcd 3.4 member (--enable-v2) and to
fleetd, compared: HTTP status, errorCode and message (the free-text cause only as a note), action, the
shape of node and prevNode (which fields are present, key, value, dir, children; never index
values, times or TTL seconds), a redirect's Location, and a non-JSON body.

    keys-diff.py ETCD_URL FLEETD_URL [--store embedded|etcd]

Each request is sent to etcd first, then to fleetd; values that differ between the two by
nature (an index just written) are taken from each side's own earlier answers. A difference
listed in KEPT (for the store in use) is printed with its reason and does not fail the run.
Exits 0 when every other request got the same answer from both.
"""
import http.client
import json
import os
import re
import ssl
import sys
import urllib.parse

# Differences kept on purpose: {step name: (stores it applies to, reason)}.
KEPT = {
    "a key with .. is refused, not resolved": (
        {"embedded", "etcd"},
        "etcd's Go mux redirects /a/../b to /b; fleet refuses any key with '..' (400/209) so no "
        "request can reach outside the path it names"),
    "a watch from an index older than the history": (
        {"etcd"},
        "on etcd, fleetd's history is etcd v3's revisions, which are never compacted here: an old "
        "index still replays, where etcd's own v2 store keeps only 1000 events"),
    "a directory with a ttl": (
        {"etcd"},
        "on etcd, fleetd refuses directory TTLs (400/209): a v3 lease on the directory marker would "
        "expire the marker alone and leave the keys below it"),
    "ttl=0": (
        {"etcd"},
        "on etcd, a TTL is a v3 lease, and a lease lasts at least 1 s: a key set with ttl=0 lives "
        "that long and says so (ttl 1), where etcd v2 expires it at its next sweep"),
    "remove the ttl (ttl empty)": (
        {"etcd"},
        "on etcd, a prevNode comes from the txn's prevKV, which names the lease but not its time "
        "left: asking etcd for it would cost one more round trip per write"),
    "refresh its ttl": (
        {"etcd"},
        "as 'remove the ttl (ttl empty)': the prevNode of a write on etcd shows no ttl/expiration"),
    "list the queue, sorted": (
        {"etcd"},
        "on etcd, a listing shows no ttl/expiration on its children: that is one lease lookup per "
        "child (fleet reads its registry recursively all the time); a key read by itself shows them"),
    "ttl beyond etcd's lease maximum": (
        {"embedded", "etcd"},
        "fleet refuses a ttl above etcd v3's lease maximum (9000000000 s) with 202, on every store, "
        "so that a key can move between stores; etcd v2 takes any uint64"),
    "refresh a directory's ttl": (
        {"etcd"},
        "follows from the kept difference 'a directory with a ttl' (no directory TTL to refresh)"),
}


class Side:
    """One server, with what its earlier answers said (indexes to use in later requests)."""

    def __init__(self, name, url):
        self.name = name
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
        self.tls = None
        if parsed.scheme == "https":
            # The dev cluster's CA and admin certificate (scripts/dev-cluster env: FLEET_TLS_DIR).
            directory = os.environ["FLEET_TLS_DIR"]
            self.tls = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
            self.tls.load_cert_chain(os.path.join(directory, "admin.pem"), os.path.join(directory, "admin-key.pem"))
        self.saved = {}

    def connect(self, timeout):
        if self.tls is None:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.tls)

    def request(self, method, path, query=None, form=None, timeout=15):
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        connection = self.connect(timeout)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def fill(self, value):
        """`{name.field}` in a request parameter: that field of this side's saved answer."""
        def lookup(match):
            name, field = match.group(1), match.group(2)
            return str(self.saved[name][field])
        return re.sub(r"\{(\w+)\.(\w+)\}", lookup, value) if isinstance(value, str) else value


def node_shape(node, ordered):
    """What must match in a node: its fields' names, key, value, dir and children."""
    if not isinstance(node, dict):
        return node
    shape = {"fields": sorted(node.keys())}
    for field in ("key", "value", "dir"):
        if field in node:
            shape[field] = node[field]
    if "key" in shape:
        # In-order keys are named after the store's index, which differs between the two.
        shape["key"] = re.sub(r"/\d{20}$", "/<in-order>", shape["key"])
    if "nodes" in node:
        children = [node_shape(child, ordered) for child in node["nodes"]]
        shape["nodes"] = children if ordered else sorted(children, key=lambda c: json.dumps(c, sort_keys=True))
    return shape


def answer_shape(status, headers, data, ordered, head):
    shape = {"status": status}
    if 300 <= status < 400:
        shape["location"] = headers.get("location")
    if head:
        shape["body"] = data.decode(errors="replace")
        return shape
    text = data.decode(errors="replace")
    try:
        body = json.loads(text.splitlines()[0]) if text.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if not 300 <= status < 400:  # a redirect's HTML body is Go's; the Location says it all
            shape["text"] = text.strip()
        return shape
    if "errorCode" in body:
        shape["errorCode"] = body["errorCode"]
        shape["message"] = body.get("message")
        # etcd's free-text cause is compared too, with numbers masked, but only as a note.
        shape["_cause"] = re.sub(r"\d+", "N", body.get("cause") or "")
        return shape
    for field in ("action",):
        if field in body:
            shape[field] = body[field]
    shape["fields"] = sorted(body.keys())
    for field in ("node", "prevNode"):
        if field in body:
            shape[field] = node_shape(body[field], ordered)
    return shape


class Step:
    def __init__(self, name, method, path, query=None, form=None, save=None, ordered=False, then=None,
                 shallow=False):
        """`ordered`: children compared in order (sorted=true); `shallow`: the node's own fields
        only, not its children (the root, where fleetd keeps its own registry)."""
        self.name, self.method, self.path = name, method, path
        self.query, self.form, self.save, self.ordered, self.then = query, form, save, ordered, then
        self.shallow = shallow


def steps():
    """The requests, in order; each builds on the tree the earlier ones left (under /diff)."""
    k = "/v2/keys/diff"
    s = [
        Step("the root's own fields", "GET", "/v2/keys/", save="start", shallow=True),
        Step("get a missing key", "GET", k + "/missing"),
        Step("set a new key", "PUT", k + "/a", form={"value": "1"}, save="a"),
        Step("get it", "GET", k + "/a"),
        Step("head it", "HEAD", k + "/a"),
        Step("set it again (prevNode)", "PUT", k + "/a", form={"value": "2"}, save="a"),
        Step("set with the value in the query", "PUT", k + "/q", query={"value": "in query"}),
        Step("set an empty value", "PUT", k + "/empty", form={"value": ""}),
        Step("set with no value at all", "PUT", k + "/novalue"),
        Step("create (prevExist=false) a new key", "PUT", k + "/c", form={"value": "x", "prevExist": "false"}),
        Step("create an existing key", "PUT", k + "/c", form={"value": "y", "prevExist": "false"}),
        Step("update (prevExist=true) an existing key", "PUT", k + "/c", form={"value": "z", "prevExist": "true"}),
        Step("update a missing key", "PUT", k + "/nope", form={"value": "z", "prevExist": "true"}),
        Step("CAS by value", "PUT", k + "/a", form={"value": "3", "prevValue": "2"}, save="a"),
        Step("CAS by a wrong value", "PUT", k + "/a", form={"value": "4", "prevValue": "nope"}),
        Step("CAS by index", "PUT", k + "/a", form={"value": "4", "prevIndex": "{a.modifiedIndex}"}, save="a"),
        Step("CAS by a wrong index", "PUT", k + "/a", form={"value": "5", "prevIndex": "1"}),
        Step("CAS by value and index, both wrong", "PUT", k + "/a",
             form={"value": "5", "prevIndex": "1", "prevValue": "nope"}),
        Step("CAS with an empty prevValue", "PUT", k + "/a", form={"value": "5", "prevValue": ""}),
        Step("CAS with a prevIndex that is not a number", "PUT", k + "/a", form={"value": "5", "prevIndex": "x"}),
        Step("CAS on a missing key", "PUT", k + "/missing", form={"value": "5", "prevValue": "1"}),
        Step("a value below a value", "PUT", k + "/a/b", form={"value": "1"}),
        Step("noValueOnSuccess", "PUT", k + "/nv", form={"value": "1", "noValueOnSuccess": "true"}),
        Step("make a directory", "PUT", k + "/d", form={"dir": "true"}),
        Step("make an existing directory again", "PUT", k + "/d", form={"dir": "true"}),
        Step("create (prevExist=false) an existing directory", "PUT", k + "/d",
             form={"dir": "true", "prevExist": "false"}),
        Step("update (prevExist=true) a directory", "PUT", k + "/d", form={"dir": "true", "prevExist": "true"}),
        Step("a directory with a value", "PUT", k + "/dv", form={"dir": "true", "value": "ignored"}),
        Step("a value over a directory", "PUT", k + "/d", form={"value": "1"}),
        Step("a directory over a value", "PUT", k + "/nv", form={"dir": "true"}),
        Step("CAS on a directory", "PUT", k + "/d", form={"value": "1", "prevValue": "x"}),
        Step("keys in the directory", "PUT", k + "/d/y", form={"value": "y"}),
        Step("a second key", "PUT", k + "/d/x", form={"value": "x"}),
        Step("a nested key", "PUT", k + "/d/sub/z", form={"value": "z"}),
        Step("a hidden key", "PUT", k + "/d/_hidden", form={"value": "h"}),
        Step("get the directory (one level, sorted)", "GET", k + "/d", query={"sorted": "true"}, ordered=True),
        Step("get the directory recursively, sorted", "GET", k + "/d", query={"recursive": "true", "sorted": "true"},
             ordered=True),
        Step("get the directory recursively", "GET", k + "/d", query={"recursive": "true"}),
        Step("get the hidden key by name", "GET", k + "/d/_hidden"),
        Step("get below a value", "GET", k + "/a/b"),
        Step("a bad boolean", "GET", k + "/d", query={"recursive": "maybe"}),
        Step("a non-clean path redirects", "GET", "/v2/keys//diff//a"),
        Step("a non-clean path with a query redirects", "GET", "/v2/keys/diff/./d", query={"recursive": "true"}),
        Step("a key with .. is refused, not resolved", "GET", "/v2/keys/diff/d/../a"),
        Step("a method the keys API does not serve", "PATCH", k + "/a"),
        Step("the root is read only", "PUT", "/v2/keys/", form={"value": "1"}),
        Step("delete a directory without dir=true", "DELETE", k + "/d"),
        Step("delete a non-empty directory with dir=true", "DELETE", k + "/d", query={"dir": "true"}),
        Step("delete a value with dir=true", "DELETE", k + "/d/x", query={"dir": "true"}),
        Step("delete a value", "DELETE", k + "/d/x"),
        Step("delete a missing key", "DELETE", k + "/d/x"),
        Step("CAD by a wrong value", "DELETE", k + "/d/y", query={"prevValue": "nope"}),
        Step("CAD by value", "DELETE", k + "/d/y", query={"prevValue": "y"}),
        Step("CAD by a wrong index", "DELETE", k + "/a", query={"prevIndex": "1"}),
        Step("CAD by index", "DELETE", k + "/a", query={"prevIndex": "{a.modifiedIndex}"}),
        Step("CAD on a directory", "DELETE", k + "/d", query={"prevValue": "x"}),
        Step("delete a directory recursively", "DELETE", k + "/d", query={"recursive": "true"}),
        Step("delete an empty directory", "DELETE", k + "/dv", query={"dir": "true"}),
        Step("a key with a ttl", "PUT", k + "/t", form={"value": "1", "ttl": "100"}, save="t"),
        Step("get the key with a ttl", "GET", k + "/t"),
        Step("remove the ttl (ttl empty)", "PUT", k + "/t", form={"value": "1", "ttl": ""}),
        # Outside k: it expires after a second on both servers, and its expiry must not be the
        # change that the recursive wait on k below reports instead of the delete it makes.
        Step("ttl=0", "PUT", k + "-ttl0/t0", form={"value": "1", "ttl": "0"}),
        Step("ttl=-1", "PUT", k + "/tn", form={"value": "1", "ttl": "-1"}),
        Step("ttl not a number", "PUT", k + "/tn", form={"value": "1", "ttl": "abc"}),
        Step("ttl=-1 on an existing key", "PUT", k + "/c", form={"value": "1", "ttl": "-1"}),
        Step("ttl=-1 on an update", "PUT", k + "/c", form={"value": "1", "ttl": "-1", "prevExist": "true"}),
        Step("ttl=-1 in the query", "PUT", k + "/tq", query={"value": "1", "ttl": "-1"}),
        Step("ttl=-1 on a directory", "PUT", k + "/tdn", form={"dir": "true", "ttl": "-1"}),
        Step("ttl=-1 on an in-order key", "POST", k + "/queue2", form={"value": "1", "ttl": "-1"}),
        Step("ttl=-1 on a refresh", "PUT", k + "/c", form={"refresh": "true", "ttl": "-1", "prevExist": "true"}),
        Step("ttl beyond etcd's lease maximum", "PUT", k + "/tb", form={"value": "1", "ttl": "9000000001"}),
        Step("a key to refresh", "PUT", k + "/r", form={"value": "keep", "ttl": "100"}),
        Step("refresh its ttl", "PUT", k + "/r", form={"refresh": "true", "ttl": "200", "prevExist": "true"}),
        Step("refresh without a ttl", "PUT", k + "/r", form={"refresh": "true", "prevExist": "true"}),
        Step("refresh with a value", "PUT", k + "/r", form={"refresh": "true", "ttl": "5", "value": "x"}),
        Step("refresh a missing key", "PUT", k + "/rnope", form={"refresh": "true", "ttl": "5"}),
        Step("a directory with a ttl", "PUT", k + "/td", form={"dir": "true", "ttl": "100"}),
        Step("refresh a directory's ttl", "PUT", k + "/td", form={"dir": "true", "ttl": "200", "prevExist": "true"}),
        Step("in-order key", "POST", k + "/queue", form={"value": "first"}),
        Step("in-order key with a ttl", "POST", k + "/queue", form={"value": "second", "ttl": "100"}),
        Step("list the queue, sorted", "GET", k + "/queue", query={"recursive": "true", "sorted": "true"},
             ordered=True),
        Step("wait=true on a POST", "POST", k + "/queue", form={"value": "x", "wait": "true"}),
        Step("wait=true on a PUT", "PUT", k + "/w", form={"value": "x", "wait": "true"}),
        Step("a key to watch", "PUT", k + "/w", form={"value": "1"}, save="w"),
        Step("wait from its index replays the set", "GET", k + "/w",
             query={"wait": "true", "waitIndex": "{w.modifiedIndex}"}),
        Step("recursive wait from the start replays the first change below", "GET", k,
             query={"wait": "true", "recursive": "true", "waitIndex": "{start.next}"}),
        Step("a waitIndex that is not a number", "GET", k + "/w", query={"wait": "true", "waitIndex": "x"}),
        Step("wait for the next change", "GET", k + "/w", query={"wait": "true"},
             then=("PUT", k + "/w", {"value": "2"})),
        Step("recursive wait for a change below", "GET", k, query={"wait": "true", "recursive": "true"},
             then=("DELETE", k + "/w", None)),
    ]
    return s


def churn(side, count):
    """`count` writes, so the history of both servers moves past the start of the test."""
    connection = side.connect(15)
    for i in range(count):
        connection.request("PUT", "/v2/keys/diff-churn/%d" % (i % 10), body="value=%d" % i,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        if response.status >= 300:
            raise SystemExit("keys-diff: churn write %d to %s failed with %d" % (i, side.name, response.status))
    connection.close()


def run(side, step):
    query = {n: side.fill(v) for n, v in (step.query or {}).items()} or None
    form = {n: side.fill(v) for n, v in step.form.items()} if step.form is not None else None
    if step.then is None:
        status, headers, data = side.request(step.method, step.path, query, form)
    else:
        # A long poll that must wait: both servers send the headers once the watch is in place,
        # so the change is made after they arrived and the body read after that.
        connection = side.connect(20)
        try:
            connection.request(step.method, step.path + "?" + urllib.parse.urlencode(query))
            response = connection.getresponse()
            method, path, change = step.then
            side.request(method, path, None, change)
            data = response.readline()  # one event; a long poll's body ends with it
            status, headers = response.status, {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
    if step.save:
        index = int(headers.get("x-etcd-index", "0"))
        saved = {"index": index, "next": index + 1}
        try:
            saved.update(json.loads(data.decode()).get("node", {}))
        except ValueError:
            pass
        side.saved[step.save] = saved
    shape = answer_shape(status, headers, data, step.ordered, step.method == "HEAD")
    if step.shallow and isinstance(shape.get("node"), dict):
        shape["node"].pop("nodes", None)
        shape["node"]["fields"] = [f for f in shape["node"]["fields"] if f != "nodes"]
    return shape, data


def main():
    args = sys.argv[1:]
    store = "embedded"
    if "--store" in args:
        at = args.index("--store")
        store = args[at + 1]
        del args[at:at + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    etcd, fleet = Side("etcd", args[0]), Side("fleetd", args[1])
    same = different = kept = 0

    def compare(step):
        nonlocal same, different, kept
        want, want_raw = run(etcd, step)
        got, got_raw = run(fleet, step)
        want_cause, got_cause = want.pop("_cause", None), got.pop("_cause", None)
        if want == got:
            same += 1
            print("same - %s" % step.name)
            if want_cause != got_cause:
                print("    note: the cause differs: etcd %r, fleetd %r" % (want_cause, got_cause))
            return
        reason = KEPT.get(step.name)
        if reason and store in reason[0]:
            kept += 1
            print("kept difference - %s: %s" % (step.name, reason[1]))
            return
        different += 1
        print("DIFFERENT - %s %s %s" % (step.name, step.method, step.path))
        print("    etcd:   %s" % json.dumps(want, sort_keys=True))
        print("    fleetd: %s" % json.dumps(got, sort_keys=True))
        print("    etcd body:   %s" % want_raw[:300].decode(errors="replace").strip())
        print("    fleetd body: %s" % got_raw[:300].decode(errors="replace").strip())

    for step in steps():
        compare(step)
    # Both keep the last 1000 events: after 1100 more writes, the start is out of reach.
    for side in (etcd, fleet):
        churn(side, 1100)
    compare(Step("a watch from an index older than the history", "GET", "/v2/keys/diff",
                 query={"wait": "true", "recursive": "true", "waitIndex": "{start.next}"}))
    print("keys-diff: %d requests, %d same, %d kept differences, %d different" % (
        same + kept + different, same, kept, different))
    return 0 if different == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
