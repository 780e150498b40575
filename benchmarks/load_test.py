"""Load test: the example project under gunicorn (several processes), driven by
concurrent clients for a bounded time, then the exact count check.

    pip install gunicorn && python benchmarks/load_test.py [--seconds 20] [--clients 16]

Every request POSTs one mark (a unique id) and one count to ``track/`` with a
signed token. Afterwards the server is stopped (its writers flush at exit)
and the stored marks and counts are compared with the accepted requests:
the script fails on any 5xx or any lost mark.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from porpoise_django.dev.embedded import EmbeddedServer  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import example_env, example_under_gunicorn  # noqa: E402

#: The example project's TIME_ZONE (example_project/example/settings.py).
PROJECT_TIME_ZONE = "Europe/Paris"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--fault",
        choices=["none", "pause", "full"],
        default="none",
        help="mid-run, hang Redis (SIGSTOP) or fill it (maxmemory 1) for 3 s",
    )
    args = parser.parse_args()
    secret = secrets.token_urlsafe(32)
    prefix = f"load{os.getpid()}"
    with EmbeddedServer() as server, tempfile.TemporaryDirectory() as folder:
        env = example_env(server.url, folder, prefix, secret)
        env["EXAMPLE_RETRY_SECONDS"] = "0.2"
        manage = str(ROOT / "example_project" / "manage.py")
        subprocess.run([sys.executable, manage, "migrate", "-v", "0"], env=env, check=True)
        token = subprocess.run(
            [sys.executable, manage, "shell", "-c",
             "from porpoise_django.api.tokens import make_track_token as m;"
             "print(m(events=['load'], counters=['load']))"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # the shell may print a banner first  # fmt: skip
        with example_under_gunicorn(env, args.workers) as port:
            latencies: list[float] = []
            statuses: dict[int, int] = {}
            accepted: list[int] = []
            lock = threading.Lock()
            stop_at = time.monotonic() + args.seconds

            client_errors: list[str] = []

            def client(number: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                sent = 0
                while time.monotonic() < stop_at:
                    ident = number * 10_000_000 + sent
                    body = json.dumps(
                        {"rows": [{"event": "load", "id": ident}, {"counter": "load"}]}
                    )
                    started = time.perf_counter()
                    try:
                        conn.request("POST", "/api/porpoise/track/", body=body, headers={
                            "Content-Type": "application/json", "X-Porpoise-Token": token,
                        })  # fmt: skip
                        response = conn.getresponse()
                        payload = response.read()
                    except (OSError, http.client.HTTPException) as exc:
                        # Counted, not fatal: a fault run must finish and report.
                        with lock:
                            client_errors.append(type(exc).__name__)
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        sent += 1
                        continue
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                        if response.status == 202 and json.loads(payload)["accepted"] == 2:
                            accepted.append(ident)
                    sent += 1

            began = time.monotonic()
            threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
            for t in threads:
                t.start()
            if args.fault != "none":
                time.sleep(args.seconds / 3)
                admin = redis.Redis.from_url(server.url)
                assert server.process is not None
                if args.fault == "pause":
                    server.process.send_signal(signal.SIGSTOP)
                else:
                    admin.config_set("maxmemory-policy", "noeviction")
                    admin.config_set("maxmemory", "1")
                time.sleep(3)
                if args.fault == "pause":
                    server.process.send_signal(signal.SIGCONT)
                else:
                    admin.config_set("maxmemory", "0")
            for t in threads:
                t.join()
            took = time.monotonic() - began

        from porpoise_django.engine import Analytics

        # The day in the project's own time zone (Europe/Paris), as it wrote it.
        pp = Analytics(redis.Redis.from_url(server.url), prefix=prefix, tz=PROJECT_TIME_ZONE)
        stored = set(pp.event("load").day().ids().tolist())
        counted = pp.counter("load").total(pp.period("day"))
        total = sum(statuses.values())
        errors = sum(n for code, n in statuses.items() if code >= 500)
        lost = len(set(accepted) - stored)
        latencies.sort()
        if not latencies:
            sys.exit("FAILED: no request got an answer")
        print(f"\n## Load test: example project, gunicorn -w {args.workers} --threads 4, "
              f"{args.clients} clients, {args.seconds:.0f} s, fault: {args.fault}\n")  # fmt: skip
        print("| measure | value |")
        print("| --- | --- |")
        print(f"| requests | {total:,} ({total / took:,.0f}/s) |")
        print(f"| status codes | {json.dumps(statuses, sort_keys=True)} |")
        print(f"| p50 / p99 latency | {statistics.median(latencies) * 1e3:.1f} ms / "
              f"{latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms |")  # fmt: skip
        print(f"| marks accepted / stored / lost | {len(accepted):,} / {len(stored):,} / {lost} |")
        print(f"| counts accepted / stored | {len(accepted):,} / {counted:,} |")
        print(f"| 5xx | {errors} |")
        print(f"| client errors (no answer) | {len(client_errors)} |")
        if errors or lost or counted != len(accepted):
            sys.exit("FAILED: 5xx answers or lost writes")


if __name__ == "__main__":
    main()
