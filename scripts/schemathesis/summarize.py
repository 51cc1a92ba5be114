#!/usr/bin/env python3
"""Summarise the schemathesis runs of scripts/schemathesis.sh as Markdown.

    summarize.py --spec docs/openapi.json --server-log serve.log --report OUT.md \
        --gating not_a_server_error,response_schema_conformance \
        ROLE=RUN.ndjson[:RUN.json] ...

Reads each role's NDJSON event stream (``st run --report ndjson``), and writes per
role: the operations tested, how many of them the role may call (the spec's
``x-required-role``), the test cases sent and the answers by status class, and
every distinct failure (method + path, check, status code, the first line of the
reason) with a curl line that reproduces it (the token as ``$KANTA_<ROLE>_TOKEN``)
and, for a 5xx, the server's log lines logged while it was answered.

Exit status: 1 when a failure of a gating check (or a schemathesis error) was
found, 0 otherwise; 2 on bad input.
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import json
import re
import shlex
import sys
from pathlib import Path

ROLES = ["viewer", "staff", "manager", "admin"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOG_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)Z\s+(\w+)\s+(.*)$")
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
# Headers that a reproduction needs; the rest (user agent, accept-encoding...) is noise.
KEEP_HEADERS = {"content-type", "x-csrf-token", "accept"}


def required_roles(spec_path: str) -> dict[str, str | None]:
    spec = json.loads(Path(spec_path).read_text())
    out = {}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in METHODS and isinstance(op, dict):
                out[f"{method.upper()} {path}"] = op.get("x-required-role")
    return out


def may_call(role: str, needed: str | None) -> bool:
    if needed is None:
        return True
    if role not in ROLES or needed not in ROLES:
        return True
    return ROLES.index(role) >= ROLES.index(needed)


def decode(blob) -> bytes | None:
    if blob is None:
        return None
    if isinstance(blob, dict):
        if "$base64" in blob:
            return base64.b64decode(blob["$base64"])
        if "string" in blob:
            return blob["string"].encode()
    if isinstance(blob, str):
        return blob.encode()
    return json.dumps(blob).encode()


BASE_URL = ""


def curl_line(role: str, request: dict) -> str:
    parts = ["curl", "-sS", "-i", "-X", request["method"]]
    parts += ["-H", f"Authorization: Bearer ${{KANTA_{role.upper()}_TOKEN}}"]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in KEEP_HEADERS:
            for v in values if isinstance(values, list) else [values]:
                parts += ["-H", f"{name}: {v}"]
    body = decode(request.get("body"))
    args = [shlex.quote(p) if not p.startswith("Authorization: Bearer $") else f'"{p}"' for p in parts]
    if body is not None:
        try:
            text = body.decode("utf-8")
            if "\x00" in text:
                raise UnicodeDecodeError("utf-8", body, 0, 1, "NUL")
            args += ["--data-binary", shlex.quote(text)]
        except UnicodeDecodeError:
            args = ["printf", shlex.quote("".join(f"\\x{b:02x}" for b in body)), "|"] + args
            args += ["--data-binary", "@-"]
    uri = request["uri"]
    if BASE_URL and uri.startswith(BASE_URL):
        args.append('"${KANTA_URL}"' + shlex.quote(uri[len(BASE_URL):]))
    else:
        args.append(shlex.quote(uri))
    return " ".join(args)


def send(request: dict, token: str) -> int | None:
    """Send a recorded request again (with the role's real token); its status."""
    import urllib.error
    import urllib.request
    headers = {"Authorization": f"Bearer {token}"}
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in KEEP_HEADERS:
            headers[name] = values[0] if isinstance(values, list) else values
    body = decode(request.get("body"))
    req = urllib.request.Request(request["uri"], data=body, method=request["method"], headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, TimeoutError, ValueError):
        return None


def minimise(request: dict, token: str, status: int) -> tuple[dict, int]:
    """Drop the JSON body's fields and the query's parameters one by one while the
    request still gets `status` from the live server; the smaller request and the
    number of requests sent."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
    sent = 0
    if send(request, token) != status:
        return request, 1
    sent += 1
    best = dict(request)
    raw = decode(best.get("body"))
    try:
        obj = json.loads(raw) if raw else None
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        for key in list(obj):
            trial = {k: v for k, v in obj.items() if k != key}
            cand = dict(best, body={"$base64": base64.b64encode(json.dumps(trial).encode()).decode()})
            sent += 1
            if send(cand, token) == status:
                obj, best = trial, cand
    parts = urlsplit(best["uri"])
    query = parse_qsl(parts.query, keep_blank_values=True)
    i = 0
    while i < len(query):
        trial = query[:i] + query[i + 1:]
        cand = dict(best, uri=urlunsplit(parts._replace(query=urlencode(trial))))
        sent += 1
        if send(cand, token) == status:
            query, best = trial, cand
        else:
            i += 1
    return best, sent


def read_log(path: str | None) -> list[tuple[float, str, str]]:
    if not path or not Path(path).exists():
        return []
    out = []
    for raw in Path(path).read_text(errors="replace").splitlines():
        line = ANSI.sub("", raw).strip()
        m = LOG_TS.match(line)
        if not m:
            continue
        stamp = m.group(1)
        if "." in stamp:
            head, frac = stamp.split(".")
            stamp = f"{head}.{frac[:6]}"
        try:
            when = dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            continue
        out.append((when, m.group(2), line))
    return out


def log_lines_near(log, start: float, end: float) -> list[str]:
    """The ERROR/WARN lines logged nearest to the request (within 2 s): with two
    workers other requests' lines come close, so only the nearest and any within
    10 ms of it are taken."""
    mid = (start + end) / 2
    near = [(abs(when - mid), when, line) for when, level, line in log
            if start - 2 <= when <= end + 2 and level in ("ERROR", "WARN")
            and "kanta_core::jobs" not in line]
    if not near:
        return []
    best = min(near)[1]
    return [line for _, when, line in sorted(near, key=lambda t: t[1]) if abs(when - best) <= 0.01]


def first_line(message: str) -> str:
    for line in (message or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


class RoleRun:
    def __init__(self, role: str, ndjson: Path, json_report: Path | None):
        self.role = role
        self.ndjson = ndjson
        self.json_report = json_report
        self.labels_tested: set[str] = set()
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.cases = 0
        self.failures: dict[tuple, dict] = {}
        self.errors: list[str] = []
        self.warnings: dict = {}
        self.running_time = None
        self.seed = None
        self.summary = {}

    def read(self, log):
        if not self.ndjson.exists():
            self.errors.append(f"no NDJSON report at {self.ndjson} (schemathesis did not run?)")
            return
        with self.ndjson.open() as fh:
            for raw in fh:
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                (kind, body), = event.items()
                if kind == "Initialize":
                    self.seed = body.get("seed")
                elif kind == "EngineFinished":
                    self.running_time = body.get("running_time")
                elif kind == "NonFatalError":
                    self.errors.append(f"{body.get('label', '?')}: {first_line(str(body.get('info', body)))}")
                elif kind == "FatalError":
                    self.errors.append(f"fatal: {first_line(str(body.get('exception', body)))}")
                elif kind == "ScenarioFinished":
                    self.scenario(body, log)
        if self.json_report and self.json_report.exists():
            report = json.loads(self.json_report.read_text())
            self.summary = report
            self.warnings = report.get("warnings") or {}
            for err in report.get("errors") or []:
                text = f"{err.get('label') or err.get('operation') or ''} {err.get('title') or err.get('message') or err}"
                if text not in self.errors:
                    self.errors.append(text.strip())

    def scenario(self, body, log):
        rec = body.get("recorder") or {}
        label = rec.get("label", "?")
        cases = rec.get("cases") or {}
        interactions = rec.get("interactions") or {}
        if body.get("status") != "skip" and cases:
            if " /" in label:
                self.labels_tested.add(label)
        for cid, inter in interactions.items():
            resp = inter.get("response")
            req = inter.get("request") or {}
            op = label if " /" in label else self.label_of(cases.get(cid), req)
            self.cases += 1
            if resp:
                self.statuses[op][resp["status_code"]] += 1
                if " /" in op:
                    self.labels_tested.add(op)
        for cid, checks in (rec.get("checks") or {}).items():
            for check in checks:
                if check.get("status") != "failure":
                    continue
                info = (check.get("failure_info") or {}).get("failure") or {}
                inter = interactions.get(cid) or {}
                resp = inter.get("response") or {}
                req = inter.get("request") or {}
                op = info.get("operation") or (label if " /" in label else self.label_of(cases.get(cid), req))
                status = resp.get("status_code")
                reason = first_line(info.get("message", "")) or info.get("title", "")
                # 5xx: one entry per operation and status; others per reason too
                key = (op, check.get("name"), status, "" if check.get("name") == "not_a_server_error" else reason)
                entry = self.failures.get(key)
                if entry is None:
                    start = inter.get("timestamp") or 0.0
                    elapsed = resp.get("elapsed") or 0.0
                    lines = log_lines_near(log, start - elapsed, start) if status and status >= 500 else []
                    body_bytes = decode(resp.get("content"))
                    entry = {
                        "operation": op,
                        "check": check.get("name"),
                        "code": info.get("code"),
                        "title": info.get("title"),
                        "status": status,
                        "reason": reason,
                        "message": info.get("message", ""),
                        "curl": curl_line(self.role, req) if req else "",
                        "request": req,
                        "minimised": None,
                        "response": (body_bytes or b"")[:600].decode("utf-8", "replace"),
                        "log": lines,
                        "count": 0,
                        "phase": ((cases.get(cid) or {}).get("value", {}).get("meta") or {}).get("phase", {}).get("name"),
                    }
                    self.failures[key] = entry
                elif len(entry["curl"]) > len(curl_line(self.role, req)) and req:
                    entry["curl"] = curl_line(self.role, req)  # keep the shortest reproduction
                    entry["request"] = req
                entry["count"] += 1

    @staticmethod
    def label_of(case, req) -> str:
        if case and "value" in case:
            return f"{case['value'].get('method')} {case['value'].get('path')}"
        return f"{req.get('method', '?')} {req.get('uri', '?')}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--server-log")
    ap.add_argument("--report", required=True)
    ap.add_argument("--gating", default="not_a_server_error,response_schema_conformance")
    ap.add_argument("--title", default="Schemathesis run against Kanta")
    ap.add_argument("--base-url", default="", help="written as ${KANTA_URL} in the curl lines")
    ap.add_argument("--preamble", default="", help="Markdown put under the title")
    ap.add_argument("--tokens", help="tokens.env of the run: with it, each 5xx is sent again to the "
                    "live server, dropping body fields and query parameters while it still fails")
    ap.add_argument("runs", nargs="+", help="ROLE=NDJSON[:JSON]")
    args = ap.parse_args()

    global BASE_URL
    BASE_URL = args.base_url.rstrip("/")
    gating = {c.strip() for c in args.gating.split(",") if c.strip()}
    needed = required_roles(args.spec)
    log = read_log(args.server_log)

    runs = []
    for spec in args.runs:
        role, _, files = spec.partition("=")
        ndjson, _, jsonr = files.partition(":")
        run = RoleRun(role, Path(ndjson), Path(jsonr) if jsonr else None)
        run.read(log)
        runs.append(run)

    tokens = {}
    if args.tokens and Path(args.tokens).exists():
        for line in Path(args.tokens).read_text().splitlines():
            name, _, value = line.partition("=")
            m = re.fullmatch(r"KANTA_([A-Z]+)_TOKEN", name)
            if m:
                tokens[m.group(1).lower()] = value
    for run in runs:
        token = tokens.get(run.role)
        if not token:
            continue
        server_errors = {f["operation"] for f in run.failures.values() if f["check"] == "not_a_server_error"}
        for f in run.failures.values():
            # one replay per 5xx: the not_a_server_error entry's, when there is one
            if f["check"] != "not_a_server_error" and f["operation"] in server_errors:
                continue
            if f["status"] and f["status"] >= 500 and f.get("request"):
                smaller, sent = minimise(f["request"], token, f["status"])
                if send(smaller, token) == f["status"]:
                    f["minimised"] = (curl_line(run.role, smaller), sent)

    out = [f"# {args.title}", ""]
    if args.preamble:
        out += [args.preamble, ""]
    out += ["## Per role", "",
            "| role | operations tested | of which the role may call | called with a 2xx answer | test cases | 2xx | 4xx | 5xx | failures (gating) | failures (advisory) | errors | time |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    bad = False
    for run in runs:
        allowed = sorted(l for l in run.labels_tested if may_call(run.role, needed.get(l)))
        ok2xx = sorted(l for l in run.labels_tested if any(200 <= s < 300 for s in run.statuses[l]))
        total = collections.Counter()
        for c in run.statuses.values():
            total.update(c)
        by_class = collections.Counter()
        for s, n in total.items():
            by_class[s // 100] += n
        gate = [f for f in run.failures.values() if f["check"] in gating]
        five = {f["operation"] for f in gate if f["check"] == "not_a_server_error"}
        adv = [f for f in run.failures.values() if f["check"] not in gating
               and not (f["status"] and f["status"] >= 500 and f["operation"] in five)]
        if gate or run.errors:
            bad = True
        t = f"{run.running_time:.0f} s" if run.running_time else "?"
        out.append(f"| {run.role} | {len(run.labels_tested)} | {len(allowed)} | {len(ok2xx)} | {run.cases} | "
                   f"{by_class[2]} | {by_class[4]} | {by_class[5]} | {len(gate)} | {len(adv)} | {len(run.errors)} | {t} |")
    out.append("")
    out.append(f"Gating checks: {', '.join(sorted(gating))}; a failure of any other check run is listed as advisory.")
    out.append("Reproductions need the role's token and the server's address: `set -a; . RUN_FOLDER/tokens.env; set +a` "
               "(KANTA_URL and KANTA_<ROLE>_TOKEN), with a server on the run's store (`--keep` keeps it), "
               "or the same names pointing at another store.")
    out.append("")

    for run in runs:
        out += [f"## {run.role}", ""]
        if run.seed is not None:
            out.append(f"Seed {run.seed}; replay a run with `--seed {run.seed}`.")
            out.append("")
        # operations the role may call that never answered 2xx: coverage holes
        allowed = sorted(l for l in run.labels_tested if may_call(run.role, needed.get(l)))
        no2xx = [l for l in allowed if not any(200 <= s < 300 for s in run.statuses[l])]
        if no2xx:
            out.append(f"Operations the {run.role} may call that never answered 2xx in this run ({len(no2xx)}): "
                       + ", ".join(f"`{l}`" for l in no2xx))
            out.append("")
        # a 5xx is also an undocumented status: list it once, as the server error
        five = {f["operation"] for f in run.failures.values()
                if f["check"] == "not_a_server_error" and f["check"] in gating}
        for title, pick in (("Gating failures", lambda f: f["check"] in gating),
                            ("Advisory failures", lambda f: f["check"] not in gating
                             and not (f["status"] and f["status"] >= 500 and f["operation"] in five))):
            items = sorted((f for f in run.failures.values() if pick(f)),
                           key=lambda f: (f["operation"].split(" ", 1)[-1], f["operation"], f["check"], str(f["status"])))
            out += [f"### {title} ({len(items)})", ""]
            if not items:
                out += ["none", ""]
                continue
            for f in items:
                out.append(f"#### {f['operation']} — {f['code']} {f['title']} ({f['check']}), status {f['status']}")
                out.append("")
                out.append(f"- reason: {f['reason']}")
                out.append(f"- seen {f['count']} time(s); first in phase {f['phase']}")
                out.append("- reproduce:")
                out.append("")
                out.append("  ```sh")
                out.append(f"  {f['curl']}")
                out.append("  ```")
                if f.get("minimised"):
                    out.append(f"- minimal reproduction (fields and parameters dropped while the {f['status']} stayed; "
                               f"{f['minimised'][1]} requests):")
                    out.append("")
                    out.append("  ```sh")
                    out.append(f"  {f['minimised'][0]}")
                    out.append("  ```")
                if f["response"]:
                    out.append(f"- response body (start): `{f['response'][:400].replace('`', chr(39))}`")
                if f["status"] and f["status"] >= 500:
                    if f["log"]:
                        out.append("- server log:")
                        out.append("")
                        out.append("  ```")
                        out += [f"  {l}" for l in f["log"][:6]]
                        out.append("  ```")
                    else:
                        out.append("- server log: no ERROR/WARN line at that time")
                if f["check"] == "response_schema_conformance":
                    detail = "\n".join("  " + l for l in f["message"].splitlines()[:40])
                    out += ["- detail:", "", "  ```", detail, "  ```"]
                out.append("")
        if run.errors:
            out += [f"### Errors ({len(run.errors)})", ""]
            out += [f"- {e}" for e in run.errors]
            out.append("")
        if run.warnings:
            out += ["### Schemathesis warnings", ""]
            for name, value in run.warnings.items():
                if not value:
                    continue
                if name == "missing_auth" and isinstance(value, list):
                    # 401/403 only: expected where the role is below x-required-role
                    odd = [v for v in value if may_call(run.role, needed.get(v))]
                    out.append(f"- missing_auth (only 401/403 answers): {len(value)} operations, "
                               f"{len(value) - len(odd)} of them above the {run.role} role as documented"
                               + (": unexpected for " + ", ".join(f"`{v}`" for v in odd) if odd else ""))
                    continue
                shown = ", ".join(f"`{v}`" for v in value) if isinstance(value, list) else f"`{value}`"
                out.append(f"- {name}: {shown}")
            out.append("")

    Path(args.report).write_text("\n".join(out) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
