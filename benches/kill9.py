#!/usr/bin/env python3
"""kill -9 at random moments (issue 15), on SQLite and PostgreSQL. Run it through
benches/kill9.sh, which finds the binary; see there for the settings.

Cases (each KILLS times per backend, each kill SIGKILL at a moment drawn uniformly
within the duration of an unkilled run of the same work, measured first):

  import  `kanta import transactions` of a large CSV into a store holding 3,000
          customers and 1,000 transactions: the store is afterwards exactly as before
          or exactly as after (counts and sums of transactions, customers'
          transactions_count and revenue_minor, import_runs, audit_log).
  usage   the same for `kanta import usage` (usage events: the CLI's event ingest).
  events  POST /api/v1/events (the API's event ingest), 2 client connections sending
          batches of transactions (some naming new customers), interactions and usage
          events; the server (`kanta serve`) is killed. The API promises a batch is
          all or nothing, and a 200 means it is written. Checked per batch (by the
          events' ids): every 200 batch is whole, no batch is partly there, a batch
          never sent is absent, a batch without an answer is whole or absent; and
          `kanta stats` moved by exactly the whole batches (transactions,
          interactions, usage, customers). The store is kept from kill to kill.
  wave    a survey wave to every customer (POST /api/v1/surveys/{id}/waves) mailed
          by `kanta serve`'s job runner through the outbox to benches/kill9_sink.py;
          the server is killed, checked at once (the wave, its invitations, outbox
          rows and mail jobs all there or none), restarted (the wave sent again if
          its request had no answer, as an operator would), and left to finish. Then:
          no invitation (token) or recipient received twice, across the restart;
          every invitation has its outbox row; none queued; every row `sent` was
          received; the rest are failed as "may have been sent" (the at-most-once
          rule), received or not; every message received belongs to an invitation of
          the store and went to that customer.

Exit status 1 when any check fails. Results: bench-data/kill9/results.json and
summary.txt; failing SQLite stores are copied to bench-data/kill9/failures/.
"""
import atexit
import base64
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KANTA = os.path.abspath(os.environ.get("KANTA_BIN", os.path.join(ROOT, "target/release/kanta")))
PG_ADMIN = os.environ.get("KANTA_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_BASE = PG_ADMIN.rsplit("/", 1)[0]
WORK = os.path.join(ROOT, "bench-data", "kill9")
KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 9
ROWS = int(os.environ.get("KILL9_ROWS", "1000000"))
USAGE_ROWS = int(os.environ.get("KILL9_USAGE_ROWS", "1000000"))
CUSTOMERS = int(os.environ.get("KILL9_CUSTOMERS", "3000"))
BATCHES = int(os.environ.get("KILL9_BATCHES", "50"))
BATCH = int(os.environ.get("KILL9_BATCH", "2000"))
SEED = int(os.environ.get("KILL9_SEED", str(int(time.time()))))
BACKENDS = os.environ.get("KILL9_BACKENDS", "sqlite postgres").split()
CASES = os.environ.get("KILL9_CASES", "import usage events wave").split()
RUN = os.getpid()
rng = random.Random(SEED)

children = []          # every process started here, to end at exit (by pid)
databases = set()      # PostgreSQL databases created here, dropped at exit
results = []           # one dict per backend and case
failures = []          # one line per failed check


def log(msg):
    print(msg, flush=True)


def fail(case, what):
    failures.append(f"{case}: {what}")
    log(f"    FAIL {what}")


# ---------------------------------------------------------------- stores

class Store:
    def __init__(self, backend, name):
        self.backend = backend
        self.name = name
        if backend == "sqlite":
            self.dir = os.path.join(WORK, "sqlite", name)
        else:
            self.db = f"kanta_kill_{RUN}_{name}"
            self.url = f"{PG_BASE}/{self.db}"

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KANTA_")}
        if self.backend == "sqlite":
            env["KANTA_DATA"] = self.dir
        else:
            env["KANTA_DATABASE_URL"] = self.url
        env.update(extra or {})
        return env

    def kanta(self, *args, check=True):
        r = subprocess.run([KANTA, *args], env=self.env(), capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"kanta {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def stats(self):
        return json.loads(self.kanta("stats", "--json"))

    def query(self, sql):
        """Rows of a query, every value as text (measurement only)."""
        if self.backend == "sqlite":
            con = sqlite3.connect(os.path.join(self.dir, "kanta.db"), timeout=60)
            try:
                rows = con.execute(sql).fetchall()
            finally:
                con.close()
            return [tuple(None if v is None else str(v) for v in r) for r in rows]
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                              self.url, "-c", sql], capture_output=True, text=True, check=True).stdout
        return [tuple(None if v == "" else v for v in line.split("\x1f")) for line in out.splitlines() if line]

    def one(self, sql):
        return self.query(sql)[0][0]

    def drop(self):
        if self.backend == "sqlite":
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            psql_admin(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            databases.discard(self.db)

    def create_empty(self):
        self.drop()
        if self.backend == "sqlite":
            os.makedirs(self.dir)
        else:
            psql_admin(f"CREATE DATABASE {self.db}")
            databases.add(self.db)

    def copy_from(self, tpl):
        self.drop()
        if self.backend == "sqlite":
            shutil.copytree(tpl.dir, self.dir)
        else:
            for attempt in range(50):  # the template must have no sessions left
                r = subprocess.run(["psql", "-X", "-q", PG_ADMIN, "-c",
                                    f"CREATE DATABASE {self.db} TEMPLATE {tpl.db}"],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError(r.stderr)
            databases.add(self.db)

    def keep_failure(self, label):
        if self.backend == "sqlite":
            dest = os.path.join(WORK, "failures", label)
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(self.dir, dest)
            log(f"    (the store is kept in {dest})")


def psql_admin(sql):
    subprocess.run(["psql", "-X", "-q", PG_ADMIN, "-c", sql], check=True, capture_output=True, text=True)


def cleanup():
    for p in children:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    for db in list(databases):
        subprocess.run(["psql", "-X", "-q", PG_ADMIN, "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"],
                       capture_output=True)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# ---------------------------------------------------------------- processes

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, env, logfile):
    out = open(logfile, "ab")
    p = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    children.append(p)
    return p


def kill9(p):
    """SIGKILL to our process p; True when it was still running."""
    alive = p.poll() is None
    if alive:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    return alive and p.returncode == -signal.SIGKILL


def stop(p):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


SERVE_ENV = {
    "KANTA_SERVE__WORKERS": "4",
    "KANTA_JOBS__LEASE_SECONDS": "3",
    "KANTA_JOBS__POLL_MS": "50",
    "KANTA_JOBS__RETRY_SECONDS": "1",
}


def serve(store, logfile, extra=None):
    port = free_port()
    env = store.env({**SERVE_ENV, **(extra or {})})
    p = start([KANTA, "serve", "--bind", f"127.0.0.1:{port}", "--score-every-hours", "0"], env, logfile)
    deadline = time.time() + 120
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"kanta serve exited ({p.returncode}); see {logfile}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"kanta serve did not answer; see {logfile}")


def request(method, url, token, body, timeout=120):
    """(status, parsed body) or (None, error) when no answer came."""
    req = urllib.request.Request(url, method=method, data=body,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:300]
    except Exception as e:  # reset, refused, closed without an answer
        return None, repr(e)


# ---------------------------------------------------------------- data

def write_csv(path, header, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", buffering=1 << 20) as f:
        f.write(header + "\n")
        for r in rows:
            f.write(r + "\n")
    os.replace(tmp, path)


def prepare_files():
    os.makedirs(WORK, exist_ok=True)
    files = {
        "customers": os.path.join(WORK, f"customers-{CUSTOMERS}.csv"),
        "seed_tx": os.path.join(WORK, f"seed-transactions-{CUSTOMERS}.csv"),
        "seed_usage": os.path.join(WORK, f"seed-usage-{CUSTOMERS}.csv"),
        "transactions": os.path.join(WORK, f"transactions-{ROWS}.csv"),
        "usage": os.path.join(WORK, f"usage-{USAGE_ROWS}-{CUSTOMERS}.csv"),
    }
    if not os.path.exists(files["customers"]):
        write_csv(files["customers"], "id,name,email,locale,survey_consent",
                  (f"c{i:06d},Asiakas {i},asiakas{i}@example.fi,{'en' if i % 4 == 0 else 'fi'},true"
                   for i in range(CUSTOMERS)))
    if not os.path.exists(files["seed_tx"]):
        r = random.Random(7)
        write_csv(files["seed_tx"], "id,customer_id,occurred_at,amount,currency,channel",
                  (f"s{i},c{i % CUSTOMERS:06d},2025-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}T10:00:00Z,"
                   f"{r.randrange(1, 300)}.{r.randrange(100):02d},EUR,store" for i in range(1000)))
    if not os.path.exists(files["seed_usage"]):
        r = random.Random(8)
        write_csv(files["seed_usage"], "id,customer_id,occurred_at,metric,value",
                  (f"su{i},c{i % CUSTOMERS:06d},2025-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}T10:00:00Z,"
                   f"logins,{r.randrange(1, 50)}" for i in range(1000)))
    if "import" in CASES and not os.path.exists(files["transactions"]):
        subprocess.run([sys.executable, os.path.join(ROOT, "benches/gen_transactions.py"), str(ROWS),
                        files["transactions"]], check=True)
    if "usage" in CASES and not os.path.exists(files["usage"]):
        r = random.Random(9)
        metrics = ["logins", "seats", "api_calls", "reports"]
        write_csv(files["usage"], "id,customer_id,occurred_at,metric,value",
                  (f"u{i},c{r.randrange(CUSTOMERS):06d},2026-{r.randrange(1, 11):02d}-{r.randrange(1, 29):02d}"
                   f"T{r.randrange(24):02d}:{r.randrange(60):02d}:00Z,{metrics[i % 4]},{r.randrange(1, 1000)}"
                   for i in range(USAGE_ROWS)))
    return files


def make_template(backend, files):
    """The store every case starts from: customers with survey consent, 1,000
    transactions and usage events, an active survey `wave`, no quiet hours, a manager's
    API token."""
    tpl = Store(backend, "template")
    tpl.create_empty()
    tpl.kanta("init")
    tpl.kanta("import", "customers", files["customers"])
    tpl.kanta("import", "transactions", files["seed_tx"])
    tpl.kanta("import", "usage", files["seed_usage"])
    tpl.kanta("survey", "create", "--name", "Kill wave", "--id", "wave")
    tpl.kanta("survey", "activate", "wave")
    token = tpl.kanta("token", "create", "kill9", "--role", "manager").strip().splitlines()[-1].strip()
    p, port = serve(tpl, os.path.join(WORK, f"{backend}-template.log"))
    st, body = request("PUT", f"http://127.0.0.1:{port}/api/v1/settings/survey_quiet_hours", token,
                       b'{"value": "none"}')
    stop(p)
    if st != 200:
        raise RuntimeError(f"could not turn the quiet hours off: {st} {body}")
    return tpl, token


# ---------------------------------------------------------------- case: imports

def fingerprint(store):
    s = store.stats()
    q = store.query
    return {
        "stats": s,
        "transactions": q("SELECT count(*), coalesce(sum(amount_minor), 0) FROM transactions")[0],
        "customers": q("SELECT count(*), coalesce(sum(transactions_count), 0), coalesce(sum(revenue_minor), 0) "
                       "FROM customers")[0],
        "usage": q("SELECT count(*), coalesce(sum(value), 0) FROM usage_events")[0],
        "import_runs": q("SELECT count(*) FROM import_runs")[0],
        "audit_log": q("SELECT count(*) FROM audit_log")[0],
    }


def case_import(backend, tpl, entity, csv, rows, key):
    label = f"{backend}/{key}"
    res = {"backend": backend, "case": key, "kills": 0, "finished_first": 0, "failures": 0,
           "as_before": 0, "as_after": 0, "neither": 0, "kill_at": []}
    store = Store(backend, key)
    store.copy_from(tpl)
    before = fingerprint(store)
    t0 = time.time()
    store.kanta("import", entity, csv)
    full = time.time() - t0
    after = fingerprint(store)
    res["full_s"] = round(full, 2)
    name = "usage" if entity == "usage" else "transactions"
    n0, n1 = before["stats"][name], after["stats"][name]
    res["figures"] = f"{name} {n0:,} -> {n1:,}"
    log(f"  {key}: an unkilled import of {rows:,} rows: {full:.2f} s, {name} {n0:,} -> {n1:,}")
    if n1 - n0 != rows:
        res["failures"] += 1
        fail(label, f"the unkilled import added {n1 - n0} {name}, not {rows}")
    for k in range(1, KILLS + 1):
        store.copy_from(tpl)
        at = rng.uniform(0, full)
        p = start([KANTA, "import", entity, csv], store.env(), os.path.join(WORK, f"{backend}-{key}.log"))
        time.sleep(at)
        landed = kill9(p)
        res["kills"] += 1
        res["kill_at"].append(round(at, 2))
        if not landed:
            res["finished_first"] += 1
        fp = fingerprint(store)
        state = "as before" if fp == before else "as after" if fp == after else "NEITHER"
        res["as_before" if fp == before else "as_after" if fp == after else "neither"] += 1
        log(f"    kill {k}: SIGKILL at {at:.2f} s{'' if landed else ' (had finished)'}: "
            f"{name} {fp['stats'][name]:,}, {state}")
        if state == "NEITHER":
            res["failures"] += 1
            diff = {k2: (before[k2], fp[k2], after[k2]) for k2 in fp if fp[k2] not in (before[k2], after[k2])}
            fail(label, f"kill {k} at {at:.2f} s left neither the before nor the after state: "
                        f"(before, now, after) = {diff}")
            store.keep_failure(f"{backend}-{key}-{k}")
    store.drop()
    results.append(res)


# ---------------------------------------------------------------- case: events API

ENTITY_OF = {"transaction": "transactions", "interaction": "interactions", "usage": "usage"}
TABLE_OF = {"transactions": "transactions", "interactions": "interactions", "usage": "usage_events"}


def make_batches(k):
    """Iteration k's batches: (body, expected rows per entity incl. new customers)."""
    r = random.Random(SEED * 1000 + k)
    out = []
    for b in range(BATCHES):
        evs = []
        want = {"transactions": 0, "interactions": 0, "usage": 0, "customers": 0}
        for i in range(BATCH):
            eid = f"r{RUN}k{k}b{b:03d}-{i}"
            c = f"c{r.randrange(CUSTOMERS):06d}"
            at = f"2026-{r.randrange(1, 11):02d}-{r.randrange(1, 29):02d}T{r.randrange(24):02d}:{r.randrange(60):02d}:00Z"
            x = r.random()
            if x < 0.6:
                if x < 0.03:  # a new customer, created by the batch
                    c = f"n{RUN}k{k}b{b:03d}-{i}"
                    want["customers"] += 1
                evs.append({"type": "transaction", "id": eid, "customer_id": c, "occurred_at": at,
                            "amount": r.randrange(150, 5000), "channel": "pos"})
            elif x < 0.8:
                evs.append({"type": "interaction", "id": eid, "customer_id": c, "occurred_at": at,
                            "kind": r.choice(["call", "email", "visit", "chat"]), "note": "kill9"})
            else:
                evs.append({"type": "usage", "id": eid, "customer_id": c, "occurred_at": at,
                            "metric": "app_opens", "value": r.randrange(1, 20)})
            want[ENTITY_OF[evs[-1]["type"]]] += 1
        out.append((json.dumps({"events": evs}, separators=(",", ":")).encode(), want))
    return out


def send_batches(port, token, batches, conns=2):
    """Sends the batches over conns connections until the server stops answering.
    Returns each batch's fate: 'not sent', an HTTP status, or 'no answer'."""
    fate = ["not sent"] * len(batches)
    answers = [None] * len(batches)
    nxt = [0]
    lock = threading.Lock()
    dead = threading.Event()

    def worker():
        while not dead.is_set():
            with lock:
                b = nxt[0]
                if b >= len(batches):
                    return
                nxt[0] += 1
                fate[b] = "sending"
            st, answers[b] = request("POST", f"http://127.0.0.1:{port}/api/v1/events", token, batches[b][0])
            fate[b] = st if st is not None else "no answer"
            if st is None:
                dead.set()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    return threads, fate, answers


def batch_presence(store, k):
    """Rows present per batch of iteration k and entity."""
    have = {}
    for ent, table in list(TABLE_OF.items()) + [("customers", "customers")]:
        prefix = f"r{RUN}k{k}b" if ent != "customers" else f"n{RUN}k{k}b"
        for (eid,) in store.query(f"SELECT external_id FROM {table} WHERE external_id LIKE '{prefix}%'"):
            b = int(eid[len(prefix):len(prefix) + 3])
            have.setdefault(b, {}).setdefault(ent, 0)
            have[b][ent] += 1
    return have


def case_events(backend, tpl, token):
    label = f"{backend}/events"
    res = {"backend": backend, "case": "events", "kills": 0, "failures": 0, "after_last_batch": 0,
           "acked": 0, "acked_whole": 0, "in_flight": 0, "in_flight_whole": 0, "in_flight_absent": 0,
           "partial": 0, "not_sent": 0, "events_added": 0, "resent": 0, "resent_unchanged": 0, "kill_at": []}
    store = Store(backend, "events")
    store.copy_from(tpl)
    logfile = os.path.join(WORK, f"{backend}-events.log")
    counted = ["transactions", "interactions", "usage", "customers"]
    first = None
    for k in range(0, KILLS + 1):
        batches = make_batches(k)
        before = store.stats()
        p, port = serve(store, logfile)
        t0 = time.time()
        threads, fate, _ = send_batches(port, token, batches)
        if k == 0:  # the unkilled run
            for t in threads:
                t.join()
            full = time.time() - t0
            stop(p)
            res["full_s"] = round(full, 2)
            first = before
            n = BATCHES * BATCH
            log(f"  events: an unkilled run of {BATCHES} batches of {BATCH:,} events over 2 connections: "
                f"{full:.2f} s ({n / full:,.0f} events/s), statuses {sorted(set(map(str, fate)))}")
            if any(f != 200 for f in fate):
                res["failures"] += 1
                fail(label, f"the unkilled run had statuses {sorted(set(map(str, fate)))}")
        else:
            at = rng.uniform(0, full)
            time.sleep(at)
            kill9(p)
            for t in threads:
                t.join()
            res["kills"] += 1
            res["kill_at"].append(round(at, 2))
        after = store.stats()  # the store opened again after the kill
        have = batch_presence(store, k)
        expect = {e: 0 for e in counted}
        bad = []
        tally = {"acked": 0, "whole_in_flight": 0, "absent_in_flight": 0, "not_sent": 0}
        for b, (body, want) in enumerate(batches):
            got = {e: have.get(b, {}).get(e, 0) for e in counted}
            whole = all(got[e] == want[e] for e in counted)
            absent = all(got[e] == 0 for e in counted)
            f = fate[b]
            if whole:
                for e in counted:
                    expect[e] += want[e]
            if not whole and not absent:
                res["partial"] += 1
                bad.append(f"batch {b} ({f}) is partly there: {got} of {want}")
            elif f == 200:
                tally["acked"] += 1
                if not whole:
                    bad.append(f"batch {b} was answered 200 but is absent")
            elif f in ("not sent",):
                tally["not_sent"] += 1
                if not absent:
                    bad.append(f"batch {b} was never sent but is there")
            elif f in ("no answer", "sending"):
                tally["whole_in_flight" if whole else "absent_in_flight"] += 1
            else:
                bad.append(f"batch {b} was answered {f}")
        moved = {e: after[e] - before[e] for e in counted}
        if moved != expect:
            bad.append(f"kanta stats moved by {moved}, the whole batches hold {expect}")
        if k > 0:
            res["acked"] += tally["acked"]
            res["acked_whole"] += tally["acked"]
            res["in_flight"] += tally["whole_in_flight"] + tally["absent_in_flight"]
            res["in_flight_whole"] += tally["whole_in_flight"]
            res["in_flight_absent"] += tally["absent_in_flight"]
            res["not_sent"] += tally["not_sent"]
            if tally["acked"] == BATCHES:
                res["after_last_batch"] += 1
            ev = sum(moved[e] for e in ("transactions", "interactions", "usage"))
            res["events_added"] += ev
            log(f"    kill {k}: SIGKILL to kanta serve at {at:.2f} s: {tally['acked']} batches answered 200, "
                f"{tally['whole_in_flight']} unanswered and whole, {tally['absent_in_flight']} unanswered and "
                f"absent, {tally['not_sent']} not sent; events +{ev:,}; "
                f"{'ok' if not bad else 'FAIL'}")
        for line in bad:
            res["failures"] += 1
            fail(label, f"kill {k}: {line}")
        if k > 0 and not bad:
            # The client's side of the promise: what had no 200 is sent again after the
            # restart; then every batch is there once, and a batch that was written
            # without an answer is answered "changed": false.
            again = [b for b in range(BATCHES) if fate[b] != 200]
            whole_before = {b for b in again if have.get(b)}
            p, port = serve(store, logfile)
            threads, fate2, answers2 = send_batches(port, token, [batches[b] for b in again])
            for t in threads:
                t.join()
            stop(p)
            final = store.stats()
            have2 = batch_presence(store, k)
            total = {e: sum(w[e] for _, w in batches) for e in counted}
            moved2 = {e: final[e] - before[e] for e in counted}
            res["resent"] += len(again)
            for i, b in enumerate(again):
                if fate2[i] != 200:
                    bad.append(f"batch {b} sent again was answered {fate2[i]}")
                elif b in whole_before:
                    res["resent_unchanged"] += 1
                    if answers2[i].get("changed") is not False or answers2[i].get("inserted") != 0:
                        bad.append(f"batch {b}, written before, sent again: changed {answers2[i].get('changed')}, "
                                   f"inserted {answers2[i].get('inserted')}")
            if any({e: have2.get(b, {}).get(e, 0) for e in counted} != batches[b][1] for b in range(BATCHES)):
                bad.append("after sending again, some batch is not whole")
            if moved2 != total:
                bad.append(f"after sending again kanta stats moved by {moved2}, the batches hold {total} (duplicates?)")
            log(f"      sent again after a restart: {len(again)} batches ({len(whole_before)} of them written "
                f"before, answered changed=false), all whole once: {'ok' if not bad else 'FAIL'}")
            for line in bad:
                res["failures"] += 1
                fail(label, f"kill {k}: {line}")
        if bad:
            store.keep_failure(f"{backend}-events-{k}")
    last = store.stats()
    res["figures_total"] = {e: (first[e], last[e]) for e in counted}
    store.drop()
    results.append(res)


# ---------------------------------------------------------------- case: survey wave

def sink_start(logpath):
    port = free_port()
    p = start([sys.executable, os.path.join(ROOT, "benches/kill9_sink.py"), "--port", str(port),
               "--log", logpath], os.environ.copy(), logpath + ".out")
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


def sink_read(logpath):
    if not os.path.exists(logpath):
        return []
    with open(logpath) as f:
        return [json.loads(l) for l in f if l.strip()]


def invite_messages(msgs):
    return [m for m in msgs if m.get("token_id") and m.get("survey")]


def wave_state(store):
    """The wave's rows as they are (for the none-or-all check after a kill)."""
    q = store.one
    return {
        "waves": int(q("SELECT count(*) FROM survey_waves")),
        "invited": int(q("SELECT count(*) FROM survey_invitations WHERE status = 'invited'")),
        "mails": int(q("SELECT count(*) FROM outbox WHERE unique_key LIKE 'survey-invite:%'")),
        "jobs": int(q("SELECT count(*) FROM jobs j JOIN outbox o ON j.unique_key = 'mail-' || o.id "
                      "WHERE j.kind = 'mail.send' AND o.unique_key LIKE 'survey-invite:%'")),
    }


def wait_finished(store, deadline_s=300):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        queued = int(store.one("SELECT count(*) FROM outbox WHERE status = 'queued'"))
        jobs = int(store.one("SELECT count(*) FROM jobs WHERE kind = 'mail.send' AND status IN ('queued', 'running')"))
        if queued == 0 and jobs == 0:
            time.sleep(0.5)  # the sink's last lines
            return True
        time.sleep(0.2)
    return False


def post_wave(port, token, box):
    t = time.time()
    box["status"], box["body"] = request("POST", f"http://127.0.0.1:{port}/api/v1/surveys/wave/waves", token,
                                         b'{"audience": "all"}')
    box["secs"] = time.time() - t


def check_wave(store, msgs, label, k):
    """The invitations against the outbox and the sink; returns (figures, problems)."""
    bad = []
    rows = store.query(
        "SELECT i.id, i.token_id, i.mail_id, o.id, o.status, o.to_addr, o.last_error, c.email "
        "FROM survey_invitations i "
        "LEFT JOIN outbox o ON o.unique_key = 'survey-invite:' || i.id "
        "LEFT JOIN customers c ON c.id = i.customer_id WHERE i.status = 'invited'")
    inv = invite_messages(msgs)
    by_token, by_rcpt, by_mid = {}, {}, {}
    for m in inv:
        by_token.setdefault(m["token_id"], []).append(m)
        for r in m["rcpt"]:
            by_rcpt[r] = by_rcpt.get(r, 0) + 1
    for m in msgs:
        if m.get("message_id"):
            by_mid[m["message_id"]] = by_mid.get(m["message_id"], 0) + 1
    dup_tokens = sum(1 for v in by_token.values() if len(v) > 1)
    dup_rcpts = sum(1 for v in by_rcpt.values() if v > 1)
    dup_mids = sum(1 for v in by_mid.values() if v > 1)
    fig = {"invited": len(rows), "received": len(inv), "sent": 0, "in_doubt": 0, "in_doubt_received": 0,
           "queued": 0, "lost": 0, "other_failed": 0, "dup_tokens": dup_tokens, "dup_rcpts": dup_rcpts,
           "dup_message_ids": dup_mids, "foreign": 0, "other_mail": len(msgs) - len(inv)}
    if dup_tokens or dup_rcpts or dup_mids:
        bad.append(f"received twice: {dup_tokens} invitations, {dup_rcpts} recipients, {dup_mids} Message-IDs")
    tokens = set()
    for inv_id, token_id, mail_id, out_id, status, to_addr, err, email in rows:
        tokens.add(token_id)
        got = by_token.get(token_id, [])
        if out_id is None:
            fig["lost"] += 1
            bad.append(f"invitation {inv_id} has no outbox row")
            continue
        if mail_id != out_id:
            bad.append(f"invitation {inv_id} names mail {mail_id}, its outbox row is {out_id}")
        for m in got:
            if [r.lower() for r in m["rcpt"]] != [to_addr.lower()] or to_addr.lower() != (email or "").lower():
                bad.append(f"invitation {inv_id}'s token went to {m['rcpt']}, its customer is {email}")
        if status == "sent":
            fig["sent"] += 1
            if len(got) != 1:
                bad.append(f"invitation {inv_id} is recorded sent but was received {len(got)} times")
        elif status == "queued":
            fig["queued"] += 1
        elif status == "failed" and err and "may have been sent" in err:
            fig["in_doubt"] += 1
            fig["in_doubt_received"] += 1 if got else 0
        else:
            fig["other_failed"] += 1
            bad.append(f"invitation {inv_id}'s mail is {status}: {err}")
    foreign = [t for t in by_token if t not in tokens]
    fig["foreign"] = len(foreign)
    if foreign:
        bad.append(f"{len(foreign)} messages received carry a token of no invitation in the store")
    if fig["invited"] != CUSTOMERS:
        bad.append(f"{fig['invited']} customers invited, not {CUSTOMERS}")
    if fig["queued"]:
        bad.append(f"{fig['queued']} invitations still queued after the restart")
    return fig, bad


def case_wave(backend, tpl, token):
    label = f"{backend}/wave"
    res = {"backend": backend, "case": "wave", "kills": 0, "failures": 0, "after_all_sent": 0,
           "wave_absent_at_kill": 0, "wave_whole_at_kill": 0, "retried_posts": 0, "received": 0,
           "received_before_kill": 0, "sent": 0, "in_doubt": 0, "in_doubt_received": 0, "dup_tokens": 0,
           "dup_rcpts": 0, "lost": 0, "queued": 0, "other_mail": 0, "kill_at": []}
    store = Store(backend, "wave")
    logfile = os.path.join(WORK, f"{backend}-wave.log")
    full = None
    for k in range(0, KILLS + 1):
        store.copy_from(tpl)
        sinklog = os.path.join(WORK, f"{backend}-wave-sink-{k}.jsonl")
        if os.path.exists(sinklog):
            os.remove(sinklog)
        sink, sport = sink_start(sinklog)
        mail = {"KANTA_MAIL__SMTP_URL": f"smtp://127.0.0.1:{sport}"}
        p, port = serve(store, logfile, mail)
        box = {}
        t0 = time.time()
        poster = threading.Thread(target=post_wave, args=(port, token, box))
        poster.start()
        bad = []
        if k == 0:  # the unkilled run: from the request to the last invitation received
            poster.join()
            deadline = time.time() + 600
            while len(invite_messages(sink_read(sinklog))) < CUSTOMERS and time.time() < deadline:
                time.sleep(0.05)
            full = time.time() - t0
            wait_finished(store)
            stop(p)
            res["full_s"] = round(full, 2)
            res["post_s"] = round(box.get("secs", 0), 2)
            log(f"  wave: an unkilled wave of {CUSTOMERS:,} invitations: {full:.2f} s from the request to the "
                f"last message (the request {box.get('status')} in {box.get('secs', 0):.2f} s)")
            if box.get("status") != 201:
                bad.append(f"the wave was answered {box.get('status')}: {box.get('body')}")
        else:
            at = rng.uniform(0, full)
            time.sleep(at)
            landed = kill9(p)
            poster.join()
            res["kills"] += 1
            res["kill_at"].append(round(at, 2))
            n_before = len(invite_messages(sink_read(sinklog)))
            res["received_before_kill"] += n_before
            st = wave_state(store)
            if st == {"waves": 0, "invited": 0, "mails": 0, "jobs": 0}:
                res["wave_absent_at_kill"] += 1
            elif st == {"waves": 1, "invited": CUSTOMERS, "mails": CUSTOMERS, "jobs": CUSTOMERS}:
                res["wave_whole_at_kill"] += 1
            else:
                bad.append(f"after the kill the wave is partly there: {st}")
            if box.get("status") not in (201, None):
                bad.append(f"the wave was answered {box.get('status')}: {box.get('body')}")
            p, port = serve(store, logfile, mail)  # the restart
            retried = None
            if box.get("status") != 201:  # no answer: the operator sends it again
                res["retried_posts"] += 1
                b2 = {}
                post_wave(port, token, b2)
                retried = b2.get("status")
                if retried != 201:
                    bad.append(f"the wave sent again was answered {retried}: {b2.get('body')}")
            if not wait_finished(store):
                bad.append("the restarted server did not finish the sending within 300 s")
            stop(p)
            if n_before >= CUSTOMERS:
                res["after_all_sent"] += 1
        stop(sink)
        msgs = sink_read(sinklog)
        fig, more = check_wave(store, msgs, label, k)
        bad += more
        if k > 0:
            for key in ("received", "sent", "in_doubt", "in_doubt_received", "dup_tokens", "dup_rcpts", "lost",
                        "queued", "other_mail"):
                res[key] += fig[key]
            log(f"    kill {k}: SIGKILL to kanta serve at {at:.2f} s ({n_before} received before; wave "
                f"{'whole' if st['waves'] else 'absent'} at the kill{', sent again: ' + str(retried) if retried else ''}"
                f"): received {fig['received']}, sent {fig['sent']}, in doubt {fig['in_doubt']} "
                f"({fig['in_doubt_received']} of them received), duplicates {fig['dup_tokens']}, "
                f"lost {fig['lost']}, queued {fig['queued']}: {'ok' if not bad else 'FAIL'}")
        elif fig["received"] != CUSTOMERS or fig["sent"] != CUSTOMERS:
            bad.append(f"the unkilled wave: {fig}")
        for line in bad:
            res["failures"] += 1
            fail(label, f"kill {k}: {line}")
        if bad:
            store.keep_failure(f"{backend}-wave-{k}")
    store.drop()
    results.append(res)


# ---------------------------------------------------------------- main

def summary():
    lines = [f"kill -9 at random moments: {KILLS} kills per case and backend, seed {SEED}, "
             f"{ROWS:,} transactions, {USAGE_ROWS:,} usage rows, {BATCHES} x {BATCH:,} events, "
             f"a wave of {CUSTOMERS:,}", "",
             "| backend | case | kills | failures | unkilled run | figures checked |",
             "|---|---|---|---|---|---|"]
    total_k = total_f = 0
    for r in results:
        total_k += r["kills"]
        total_f += r["failures"]
        c = r["case"]
        if c in ("import", "usage"):
            fig = (f"{r['figures']}; as before {r['as_before']}, as after {r['as_after']}, neither {r['neither']}"
                   f"{'; ' + str(r['finished_first']) + ' had finished before the kill' if r['finished_first'] else ''}")
        elif c == "events":
            fig = (f"{r['acked']} batches answered 200, all whole; {r['in_flight']} unanswered "
                   f"({r['in_flight_whole']} whole, {r['in_flight_absent']} absent); partial {r['partial']}; "
                   f"events +{r['events_added']:,}; sent again after a restart {r['resent']} "
                   f"({r['resent_unchanged']} written before, answered changed=false), then all whole once")
        else:
            fig = (f"{r['received']:,} invitations received, {r['dup_tokens']} twice; sent {r['sent']:,}, "
                   f"in doubt {r['in_doubt']} ({r['in_doubt_received']} received), lost {r['lost']}, "
                   f"queued {r['queued']}; wave at the kill: whole {r['wave_whole_at_kill']}, "
                   f"absent {r['wave_absent_at_kill']} (sent again {r['retried_posts']})")
        name = {"import": "import transactions", "usage": "import usage", "events": "POST /api/v1/events",
                "wave": "survey wave + outbox"}[c]
        lines.append(f"| {r['backend']} | {name} | {r['kills']} | {r['failures']} | {r['full_s']} s | {fig} |")
    lines += ["", f"{total_k} kills, {total_f} failed checks"]
    return "\n".join(lines)


def main():
    if not os.access(KANTA, os.X_OK):
        sys.exit(f"no kanta binary at {KANTA}")
    os.makedirs(WORK, exist_ok=True)
    t_start = time.time()
    log(f"kill9: {KANTA}, {KILLS} kills per case, seed {SEED}, backends {BACKENDS}, cases {CASES}")
    files = prepare_files()
    for backend in BACKENDS:
        log(f"== {backend} ==")
        tpl, token = make_template(backend, files)
        for case in CASES:
            t = time.time()
            if case == "import":
                case_import(backend, tpl, "transactions", files["transactions"], ROWS, "import")
            elif case == "usage":
                case_import(backend, tpl, "usage", files["usage"], USAGE_ROWS, "usage")
            elif case == "events":
                case_events(backend, tpl, token)
            elif case == "wave":
                case_wave(backend, tpl, token)
            results[-1]["case_s"] = round(time.time() - t, 1)
        tpl.drop()
    text = summary()
    text += f"\ntotal time {time.time() - t_start:.0f} s"
    log("\n" + text)
    for f in failures:
        log(f"FAIL {f}")
    with open(os.path.join(WORK, "summary.txt"), "w") as f:
        f.write(text + "\n" + "".join(f"FAIL {x}\n" for x in failures))
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump({"seed": SEED, "kills_per_case": KILLS, "results": results, "failures": failures}, f, indent=1)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
