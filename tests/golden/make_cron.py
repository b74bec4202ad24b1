#!/usr/bin/env python3
"""Write tests/golden/cron.tsv from tests/golden/cron.in with independent
implementations: systemd-analyze calendar (systemd >= 252, for --base-time)
and Python's zoneinfo.  Each output line is

    cron <TAB> zone <TAB> after <TAB> next1 <TAB> next2 <TAB> next3

with the instants as Unix seconds: the first three firings strictly after
`after`.  test_cron.c checks coordinator/cron.c against it.

    python3 tests/golden/make_cron.py   (from the repository root)
"""
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
ELAPSE = re.compile(r"(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$")


def utc(text):
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp())


def systemd(spec, zone, after):
    base = datetime.fromtimestamp(after, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    out = subprocess.run(["systemd-analyze", "calendar", "--iterations=3", "--base-time=" + base,
                          spec + " " + zone], check=True, capture_output=True, text=True,
                         env=dict(os.environ, TZ="UTC")).stdout
    got = [utc(m.group(1)) for m in map(ELAPSE.search, out.splitlines()) if m]
    if len(got) != 3:
        sys.exit("make_cron: systemd-analyze gave %d elapses for %r:\n%s" % (len(got), spec, out))
    return got


def zoneinfo(wall, zone):
    t = datetime.strptime(wall.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone), fold=0)
    return int(t.timestamp())


def main():
    lines = []
    with open(os.path.join(HERE, "cron.in")) as f:
        for raw in f:
            if not raw.strip() or raw.startswith("#"):
                continue
            cron, zone, after, oracle = (part.strip() for part in raw.split("|"))
            after = utc(after)
            kind, _, args = oracle.partition(":")
            if kind == "systemd":
                got = sorted({t for spec in args.split(";") for t in systemd(spec.strip(), zone, after)})
            elif kind == "zoneinfo":
                got = [zoneinfo(w, zone) for w in args.split(";")]
            else:
                sys.exit("make_cron: unknown oracle %r" % oracle)
            got = [t for t in got if t > after][:3]
            if len(got) != 3:
                sys.exit("make_cron: fewer than three firings for %r" % raw)
            lines.append("\t".join([cron, zone, str(after)] + [str(t) for t in got]))
    with open(os.path.join(HERE, "cron.tsv"), "w") as f:
        f.write("# written by tests/golden/make_cron.py from cron.in: cron, zone, after, next three firings"
                " (Unix seconds)\n")
        f.write("\n".join(lines) + "\n")


main()
