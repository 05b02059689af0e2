"""What the calendar costs the board: a real CalDAV server (Radicale on loopback, TLS) holding N
events (one in ten recurring weekly), one whole sync into the cache (its wall time and this
process's CPU time), and "What's on tomorrow?" answered from the cache (median and p90 over runs).

    os1 eval calendar [--events 1000] [--asks 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from device.agenda.agenda import Agenda
from device.agenda.cache import AgendaCache
from device.agenda.sources import CalDavCalendar
from device.evals.radicale import RadicaleServer
from device.intents.calendar import CalendarIntent

ZONE = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=ZONE)


def _event(i: int) -> str:
    start = NOW + timedelta(hours=7 * i + 1)  # spread over the next ~10 months
    rule = "RRULE:FREQ=WEEKLY;COUNT=20\n" if i % 10 == 0 else ""
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//eval//EN\nBEGIN:VEVENT\n"
        f"UID:event-{i}@eval\nDTSTAMP:20261101T120000Z\n"
        f"DTSTART;TZID=Europe/London:{start:%Y%m%dT%H%M%S}\n"
        f"DTEND;TZID=Europe/London:{start + timedelta(hours=1):%Y%m%dT%H%M%S}\n"
        f"{rule}SUMMARY:Event number {i}\nEND:VEVENT\nEND:VCALENDAR\n"
    )


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(events: int, asks: int) -> dict[str, float]:
    import caldav

    with (
        tempfile.TemporaryDirectory(prefix="os1-eval-calendar-") as tmp,
        RadicaleServer(Path(tmp) / "r") as srv,
    ):
        client = caldav.DAVClient(
            srv.url, username=srv.user, password=srv.password, ssl_verify_cert=str(srv.cert)
        )
        cal = client.principal().make_calendar(name="Eval")
        t0 = time.monotonic()
        for i in range(events):
            cal.save_event(_event(i))
        upload_s = time.monotonic() - t0
        source = CalDavCalendar(srv.url, srv.user, srv.password, ca_file=str(srv.cert))
        agenda = Agenda(source, AgendaCache(Path(tmp) / "calendar.db"), now=lambda: NOW)
        cpu0, t0 = _cpu_s(), time.monotonic()
        synced = agenda.sync()
        sync_s, sync_cpu_s = time.monotonic() - t0, _cpu_s() - cpu0
        ask = CalendarIntent(agenda)
        took = []
        for _ in range(asks):
            t0 = time.monotonic()
            reply = ask("What's on tomorrow?")
            took.append((time.monotonic() - t0) * 1000)
        agenda.cache.close()
    took.sort()
    return {
        "events": events,
        "synced_objects": synced,
        "upload_s": round(upload_s, 1),
        "sync_s": round(sync_s, 2),
        "sync_cpu_s": round(sync_cpu_s, 2),
        "tomorrow_median_ms": round(statistics.median(took), 1),
        "tomorrow_p90_ms": round(took[int(0.9 * (len(took) - 1))], 1),
        "reply": reply or "",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--asks", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    r = measure(args.events, args.asks)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{r['events']} events put on Radicale in {r['upload_s']} s (one PUT each, as a phone would)")
    print(
        f"one whole sync (and the index of a year ahead): {r['synced_objects']} objects in {r['sync_s']} s, "
        f"{r['sync_cpu_s']} s of CPU here"
    )
    median, p90 = r["tomorrow_median_ms"], r["tomorrow_p90_ms"]
    print(f"'What's on tomorrow?' from the cache: median {median} ms, p90 {p90} ms")
    print(f"  -> {r['reply']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
