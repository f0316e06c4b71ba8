#!/usr/bin/env python3
"""Side by side: spurlos `logs import` and GoAccess on the same combined log (issue 13).

Imports LOG for SITE into a fresh data directory (no server), starts spurlos on it, asks the
Stats API for page views, visitors and 404 events per day and the top ten pages, runs GoAccess
1.7 over the same file twice (its defaults, and with --ignore-crawlers
--ignore-statics=req), and prints Markdown tables for BENCHMARKS.md.

Usage: bench/goaccess_compare.py LOG SITE   (spurlos from $CARGO_TARGET_DIR/debug)
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

log, site = sys.argv[1], sys.argv[2]
binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "spurlos")
data = tempfile.mkdtemp(prefix="spurlos-compare-")
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
env = dict(os.environ, SPURLOS_DATA_DIR=data, SPURLOS_LISTEN=f"127.0.0.1:{port}",
           SPURLOS_ADMIN_TOKEN="compare-admin-token-0123456789", SPURLOS_LOG="warn")
subprocess.run([binary, "site", "add", site], env=env, check=True, stdout=subprocess.DEVNULL)
summary = json.loads(subprocess.run([binary, "logs", "import", "--json", "--site", site, log],
                                    env=env, check=True, capture_output=True, text=True).stdout)
server = subprocess.Popen([binary, "serve"], env=env)
try:
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health")
            break
        except OSError:
            time.sleep(0.1)

    def query(body):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/query",
                                     data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + env["SPURLOS_ADMIN_TOKEN"],
                                              "Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(req))["results"]

    rng = ["2015-05-17", "2015-05-20"]
    days = {r["dimensions"][0]: r["metrics"] for r in query(
        {"site_id": site, "metrics": ["pageviews", "visitors"], "dimensions": ["time:day"], "date_range": rng})}
    nf = {r["dimensions"][0]: r["metrics"][0] for r in query(
        {"site_id": site, "metrics": ["events"], "dimensions": ["time:day"], "date_range": rng,
         "filters": [["is", "event:name", ["404"]]]})}
    pages = query({"site_id": site, "metrics": ["pageviews"], "dimensions": ["event:page"],
                   "date_range": rng, "filters": [["is", "event:name", ["pageview"]]],
                   "order_by": [["pageviews", "desc"]], "pagination": {"limit": 10}})
finally:
    server.terminate()
    server.wait()


def goaccess(*extra):
    out = os.path.join(data, "goaccess.json")
    subprocess.run(["goaccess", "--log-format=COMBINED", "--no-progress", *extra, log, "-o", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.load(open(out))


plain = goaccess()
strict = goaccess("--ignore-crawlers", "--ignore-statics=req")


def per_day(report):
    return {d["data"]: (d["hits"]["count"], d["visitors"]["count"]) for d in report["visitors"]["data"]}


def not_found(report):
    out = {}
    # GoAccess keeps 404s per request, not per day: total only.
    return report["not_found"]["metadata"]["hits"]["total"]["value"]


row = summary["sites"][0]
print(f"spurlos read {summary['lines']} lines: {row['pageviews']} page views, {row['events']} events, "
      f"{row['bots']} bot requests, skipped {row['skipped']}; malformed {summary['malformed']}")
print()
print("| day | spurlos page views | spurlos visitors | spurlos 404 events | GoAccess hits | GoAccess visitors | GoAccess hits (no crawlers, no static) | GoAccess visitors (same) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
gp, gs = per_day(plain), per_day(strict)
for day in sorted(days):
    key = day.replace("-", "")
    pv, vis = days[day]
    print(f"| {day} | {pv} | {vis} | {nf.get(day, 0)} | {gp.get(key, (0, 0))[0]} | {gp.get(key, (0, 0))[1]} "
          f"| {gs.get(key, (0, 0))[0]} | {gs.get(key, (0, 0))[1]} |")
print(f"| all | {sum(v[0] for v in days.values())} | {sum(v[1] for v in days.values())} (summed daily) "
      f"| {sum(nf.values())} | {plain['general']['total_requests']} | {plain['general']['unique_visitors']} "
      f"| {strict['general']['valid_requests']} | {strict['general']['unique_visitors']} |")
print()
print(f"404s: spurlos {sum(nf.values())} page 404 events; GoAccess {not_found(plain)} 404 hits "
      f"(all requests), {not_found(strict)} without crawlers and static files")
print()
print("| # | spurlos top pages (page views) | GoAccess top requests, no crawlers/static (hits) |")
print("| --- | --- | --- |")
greq = strict["requests"]["data"][:10]
for i in range(10):
    a = f"{pages[i]['dimensions'][0]} ({pages[i]['metrics'][0]})" if i < len(pages) else ""
    b = f"{greq[i]['data']} ({greq[i]['hits']['count']})" if i < len(greq) else ""
    print(f"| {i + 1} | {a} | {b} |")
