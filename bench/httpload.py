"""HTTP load for the benchmarks: a gunicorn server on loopback and a load client.

Used by ``bench/query_bench.py`` and ``bench/soak.py``; nothing here is a
benchmark by itself.

Server side (in the benchmark's process)::

    with GunicornServer(index_dir, log_path) as server:   # waits for /api/health
        client = LoadClient(server.port, paths, threads=4, seconds=20, workdir=tmp)
        client.wait_ready()
        ...
        result = client.result()

The server is ``gunicorn --preload -w 2 -b 127.0.0.1:<free port>
'web:create_app()'`` started from the repository root with
``BLOGSEARCH_INDEX_DIR`` set and rate limiting off (``BLOGSEARCH_RATE_LIMIT=""``;
``BLOGSEARCH_CONFIG`` is removed from its environment). It is always
terminated on exit from the ``with`` block (SIGTERM, then SIGKILL after 15 s).
With gunicorn 27+, ``--no-control-socket`` is added (see
:func:`gunicorn_extra_args`).

Client side (a separate process)::

    python bench/httpload.py SPEC.json OUT.json

The client imports only the standard library. It runs ``threads`` threads,
each with its own ``http.client.HTTPConnection`` (keep-alive when the server
allows it; gunicorn's default sync workers close the connection after every
response, and http.client then reconnects by itself). Each thread cycles
through the request paths from its own offset; with ``marker_path`` set, every
``marker_every``-th request of a thread is that path instead, and the client
notes whether a hit with id ``marker_id`` was in the answer. It stops at its
deadline (``warmup_seconds + seconds`` after start) or as soon as
``stop_file`` exists, whichever comes first. One line ``ready <start>
<measure_start> <deadline>`` (``time.monotonic()`` values, which on Linux are
comparable between processes) goes to stdout once the threads run.

Every request gives one record ``[t_start, t_end, kind, status, indexVersion,
marker_found, error, path_index]``: kind 0 is a query path (path_index into
``paths``), kind 1 the marker path (path_index -1); error is None for a 200
with a JSON body, otherwise a short text (``HTTP 500: ...``, an exception).
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# Record fields.
T0, T1, KIND, STATUS, VERSION, FOUND, ERROR, PATH = range(8)
KIND_QUERY, KIND_MARKER = 0, 1


# --- client (its own process) ---------------------------------------------------


def run_client(spec: dict[str, Any]) -> dict[str, Any]:
    """Drive the server at 127.0.0.1:``spec["port"]``; returns every record."""
    port = int(spec["port"])
    paths: list[str] = list(spec["paths"])
    threads = int(spec.get("threads", 4))
    seconds = float(spec["seconds"])
    warmup = float(spec.get("warmup_seconds", 0.0))
    timeout = float(spec.get("timeout", 60.0))
    stop_file = spec.get("stop_file")
    marker_path = spec.get("marker_path")
    marker_id = spec.get("marker_id")
    marker_every = int(spec.get("marker_every", 0)) if marker_path else 0
    if not paths:
        raise ValueError("no request paths")

    start = time.monotonic()
    measure_start = start + warmup
    deadline = measure_start + seconds
    per_thread: list[list[list[Any]]] = [[] for _ in range(threads)]

    def stopped() -> bool:
        return time.monotonic() >= deadline or bool(stop_file and os.path.exists(stop_file))

    def worker(i: int) -> None:
        records = per_thread[i]
        conn: http.client.HTTPConnection | None = None
        position = (i * len(paths)) // threads
        count = 0
        while not stopped():
            count += 1
            if marker_every and (count + i) % marker_every == 0:
                kind, index, path = KIND_MARKER, -1, marker_path
            else:
                index = position % len(paths)
                position += 1
                kind, path = KIND_QUERY, paths[index]
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
            status, version, found, error = 0, None, None, None
            t0 = time.monotonic()
            try:
                conn.request("GET", path, headers={"Accept": "application/json"})
                response = conn.getresponse()
                body = response.read()
                status = response.status
                if status != 200:
                    error = f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
                else:
                    try:
                        data = json.loads(body)
                        version = data.get("indexVersion")
                        if kind == KIND_MARKER:
                            found = any(h.get("id") == marker_id for h in data.get("hits", []))
                    except ValueError as exc:
                        error = f"bad JSON in a 200 answer: {exc}"
            except Exception as exc:  # noqa: BLE001 - every failure is a record
                error = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
            t1 = time.monotonic()
            records.append([t0, t1, kind, status, version, found, error, index])
            if error and status == 0:
                time.sleep(0.05)  # refused or reset: do not spin
        if conn is not None:
            conn.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    print(f"ready {start!r} {measure_start!r} {deadline!r}", flush=True)
    for t in pool:
        t.join()
    return {
        "start": start,
        "measure_start": measure_start,
        "deadline": deadline,
        "stopped": time.monotonic(),
        "threads": threads,
        "paths": paths,
        "marker_path": marker_path,
        "records": [r for records in per_thread for r in records],
    }


def _client_main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: httpload.py SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = run_client(spec)
    Path(argv[1]).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


# --- the benchmark's side ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _venv_tool(name: str) -> str:
    for candidate in (REPO / ".venv" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"cannot find {name} (run `make install`)")
    return found


def gunicorn_exe() -> str:
    return _venv_tool("gunicorn")


def gunicorn_extra_args() -> list[str]:
    """``--no-control-socket`` where gunicorn has it (27+); otherwise every instance
    opens its control socket at the same ~/.gunicorn/gunicorn.ctl, shared with
    whatever other gunicorn runs at the time (a test, another benchmark)."""
    proc = subprocess.run([gunicorn_exe(), "--help"], capture_output=True, text=True, check=False)
    return ["--no-control-socket"] if "--no-control-socket" in proc.stdout else []


def blogsearch_exe() -> str:
    return _venv_tool("blogsearch")


def get_json(port: int, path: str, timeout: float = 10.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as r:
            return r.status, json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, None


LOG_MARKERS = (
    "Traceback",
    "[ERROR]",
    "[CRITICAL]",
    "WORKER TIMEOUT",
    "Worker exiting",
    "was sent SIGKILL",
    "Booting worker",
)


class GunicornServer:
    """``gunicorn --preload -w N 'web:create_app()'`` on a free loopback port."""

    def __init__(
        self,
        index_dir: Path,
        log_path: Path,
        workers: int = 2,
        start_timeout: float = 120.0,
        extra_args: tuple[str, ...] = (),
    ):
        self.index_dir = Path(index_dir)
        self.log_path = Path(log_path)
        self.workers = workers
        self.start_timeout = start_timeout
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.started_in = 0.0
        self.command: list[str] = []

    def __enter__(self) -> GunicornServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        env = {
            **os.environ,
            "BLOGSEARCH_INDEX_DIR": str(self.index_dir),
            "BLOGSEARCH_RATE_LIMIT": "",  # one client address sends everything
        }
        env.pop("BLOGSEARCH_CONFIG", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        for attempt in range(3):  # the free port may be taken before gunicorn binds it
            self.port = free_port()
            self.command = [
                gunicorn_exe(),
                "--preload",
                "-w",
                str(self.workers),
                "-b",
                f"{HOST}:{self.port}",
                "--graceful-timeout",
                "5",
                *gunicorn_extra_args(),
                *self.extra_args,
                "web:create_app()",
            ]
            with open(self.log_path, "ab") as log:
                log.write(f"--- {' '.join(self.command)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    self.command,
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_healthy():
                self.started_in = time.monotonic() - started
                return
            if attempt == 2 or "Address already in use" not in self.log_tail():
                break
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.log_tail()}")

    def _wait_healthy(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError, ValueError):
                status, _ = get_json(self.port, "/api/health", timeout=2)
                if status == 200:
                    return True
            time.sleep(0.2)
        self.stop()
        return False

    def health(self) -> dict[str, Any]:
        status, body = get_json(self.port, "/api/health")
        return body if status == 200 and isinstance(body, dict) else {"status": status}

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_findings(self) -> list[str]:
        """Log lines worth a look: tracebacks, errors, worker timeouts and restarts.

        ``Booting worker`` lines beyond the first ``workers`` mean a worker was
        replaced (it died or timed out).
        """
        found = []
        boots = 0
        for line in self.log_text().splitlines():
            if "Booting worker" in line:
                boots += 1
                if boots <= self.workers:
                    continue
            if any(m in line for m in LOG_MARKERS):
                found.append(line.strip())
        return found


class LoadClient:
    """The client process (``httpload.py SPEC OUT``), seen from the benchmark."""

    def __init__(
        self,
        port: int,
        paths: list[str],
        *,
        threads: int,
        seconds: float,
        workdir: Path,
        warmup_seconds: float = 0.0,
        timeout: float = 60.0,
        marker_path: str | None = None,
        marker_id: str | None = None,
        marker_every: int = 0,
        name: str = "client",
    ):
        workdir.mkdir(parents=True, exist_ok=True)
        self.stop_file = workdir / f"{name}.stop"
        self.out_file = workdir / f"{name}.out.json"
        self.err_file = workdir / f"{name}.stderr"
        for f in (self.stop_file, self.out_file):
            f.unlink(missing_ok=True)
        spec = {
            "port": port,
            "paths": paths,
            "threads": threads,
            "seconds": seconds,
            "warmup_seconds": warmup_seconds,
            "timeout": timeout,
            "stop_file": str(self.stop_file),
            "marker_path": marker_path,
            "marker_id": marker_id,
            "marker_every": marker_every,
        }
        spec_file = workdir / f"{name}.spec.json"
        spec_file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        self.seconds = seconds + warmup_seconds
        with open(self.err_file, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), str(spec_file), str(self.out_file)],
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        self.start = self.measure_start = self.deadline = 0.0

    def wait_ready(self) -> float:
        """Block until the client's threads run; returns its start (monotonic)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 4 or line[0] != "ready":
            self.proc.wait(timeout=30)
            raise RuntimeError(f"load client failed:\n{self.err_file.read_text()}")
        self.start, self.measure_start, self.deadline = map(float, line[1:])
        return self.start

    def stop(self) -> None:
        self.stop_file.touch()

    def result(self, grace: float = 120.0) -> dict[str, Any]:
        """Wait for the client to finish (its deadline + *grace* at most)."""
        remaining = max(0.0, self.deadline - time.monotonic()) if self.deadline else self.seconds
        try:
            self.proc.wait(timeout=remaining + grace)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("load client did not finish") from None
        if self.proc.returncode != 0 or not self.out_file.is_file():
            raise RuntimeError(
                f"load client exited with {self.proc.returncode}:\n{self.err_file.read_text()}"
            )
        return json.loads(self.out_file.read_text(encoding="utf-8"))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def latency_stats(ms: list[float]) -> dict[str, float]:
    """n, median (p50), p95 and p99 (nearest rank), mean and max of *ms*."""
    import statistics

    from bench.relevance import percentile

    if not ms:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0}
    return {
        "n": len(ms),
        "p50": statistics.median(ms),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": sum(ms) / len(ms),
        "max": max(ms),
    }


if __name__ == "__main__":
    sys.exit(_client_main(sys.argv[1:]))
