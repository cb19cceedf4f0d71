"""HTTP load for the benchmarks: servers on loopback, load clients, process memory.

Used by ``bench/query_bench.py`` and ``bench/soak.py``; nothing here is a
benchmark by itself.

Server side (in the benchmark's process)::

    with GunicornServer(index_dir, log_path) as server:   # waits for /api/health
        client = LoadClient(server.port, paths, threads=4, seconds=20, workdir=tmp)
        client.wait_ready()
        ...
        result = client.result()
        memory = server.memory()                           # RSS, PSS per process

:class:`GunicornServer` is ``gunicorn --preload -w 2 -b 127.0.0.1:<free port>
'web:create_app()'``; :class:`ServeServer` is ``blogsearch serve --index-dir
<index> --host 127.0.0.1 --port <free port>`` (what ``make run`` starts:
Werkzeug's threaded development server). Both start from the repository root
with ``BLOGSEARCH_INDEX_DIR`` set, rate limiting off (``BLOGSEARCH_RATE_LIMIT=""``;
``BLOGSEARCH_CONFIG`` is removed from their environment) and this checkout
first on ``PYTHONPATH`` (so they run the code beside this file even where the
venv's editable install points to another checkout; :func:`loaded_code` says
which files an interpreter with that environment imports). They are always
terminated on exit from the ``with`` block (SIGTERM, then SIGKILL after 15 s).
With gunicorn 27+, ``--no-control-socket`` is added (see
:func:`gunicorn_extra_args`). ``server.memory()`` reads ``/proc/PID/smaps_rollup``
of the server process and of its children (gunicorn's workers), found through
``/proc/PID/task/*/children`` or, on kernels without it, the parent pid in
``/proc/*/stat``.

Client side (a separate process)::

    python bench/httpload.py SPEC.json OUT.json

The client imports only the standard library. The spec's ``mode`` chooses
what it does.

``"load"`` (the default): it runs ``threads`` threads, each with its own
``http.client.HTTPConnection`` (keep-alive when the server allows it;
gunicorn's default sync workers close the connection after every response,
and http.client then reconnects by itself). Each thread cycles through the
request paths from its own offset; with ``stream`` set instead (``base``
queries, ``words``, ``seed``), the threads share one :class:`QueryStream` and
every request is a query not sent before as far as the words allow. With
``marker_path`` set, every ``marker_every``-th request of a thread is that path
instead, and the client notes whether a hit with id ``marker_id`` was in the
answer. It stops at its deadline (``warmup_seconds + seconds`` after start) or
as soon as ``stop_file`` exists, whichever comes first. One line ``ready
<start> <measure_start> <deadline>`` (``time.monotonic()`` values, which on
Linux are comparable between processes) goes to stdout once the threads run.
Every request gives one record ``[t_start, t_end, kind, status, indexVersion,
marker_found, error, path_index]``: kind 0 is a query path (path_index into
``paths``, or into the stream's queries), kind 1 the marker path (path_index
-1); error is None for a 200 with a JSON body, otherwise a short text (``HTTP
500: ...``, an exception).

``"passes"`` (:func:`run_passes`): one thread, one ``http.client`` connection
(it reconnects by itself when the server closes it after a response, as
gunicorn's sync workers and Werkzeug's development server do), sequential.
First the ``warmup_paths`` in rounds until the main thread of every pid of
``warm_pids`` has run (its time in ``/proc/PID/schedstat`` grew: each gunicorn
worker has answered at least once; at most ``max_warmup_rounds``), then every
path once per pass of ``passes``. Each request of a pass gives a record with its client latency,
status, error, the body's ``processingTimeMs``, the ``Server-Timing`` header and
the connections opened so far.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# Record fields.
T0, T1, KIND, STATUS, VERSION, FOUND, ERROR, PATH = range(8)
KIND_QUERY, KIND_MARKER = 0, 1


# --- client (its own process) ---------------------------------------------------


class QueryStream:
    """Search paths, each a query not sent before as far as possible, shared by threads.

    First the *base* queries in order, then each of *words* alone (shuffled),
    then random pairs and triples of *words* (``random.Random(seed)``); a query
    already sent is skipped. Only when 200 random draws in a row were all sent
    before does a query repeat (counted in ``repeats``).
    """

    def __init__(self, base: Sequence[str], words: Sequence[str], seed: int):
        self.rng = random.Random(seed)
        self.words = list(dict.fromkeys(w for w in words if w.strip()))
        singles = list(self.words)
        self.rng.shuffle(singles)
        self._pending = iter([*base, *singles])
        self.queries: list[str] = []
        self.seen: set[str] = set()
        self.repeats = 0
        self._lock = threading.Lock()

    def next(self) -> tuple[int, str]:
        """(sequence number, path) of the next query."""
        with self._lock:
            query = self._new()
            self.queries.append(query)
            return len(self.queries) - 1, "/api/search?" + urlencode({"q": query})

    def _new(self) -> str:
        for query in self._pending:
            if query not in self.seen:
                self.seen.add(query)
                return query
        if len(self.words) >= 2:
            for _ in range(200):
                k = min(len(self.words), self.rng.choice((2, 2, 3)))
                query = " ".join(self.rng.sample(self.words, k))
                if query not in self.seen:
                    self.seen.add(query)
                    return query
        if not self.queries:
            raise ValueError("an empty query stream")
        self.repeats += 1
        return self.rng.choice(self.queries)


def run_client(spec: dict[str, Any]) -> dict[str, Any]:
    """Drive the server at 127.0.0.1:``spec["port"]``; returns every record."""
    port = int(spec["port"])
    paths: list[str] = list(spec.get("paths") or [])
    stream = None
    if spec.get("stream"):
        s = spec["stream"]
        stream = QueryStream(s.get("base", []), s.get("words", []), int(s.get("seed", 0)))
    threads = int(spec.get("threads", 4))
    seconds = float(spec["seconds"])
    warmup = float(spec.get("warmup_seconds", 0.0))
    timeout = float(spec.get("timeout", 60.0))
    stop_file = spec.get("stop_file")
    marker_path = spec.get("marker_path")
    marker_id = spec.get("marker_id")
    marker_every = int(spec.get("marker_every", 0)) if marker_path else 0
    if not paths and stream is None:
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
            elif stream is not None:
                kind = KIND_QUERY
                index, path = stream.next()
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
    result = {
        "start": start,
        "measure_start": measure_start,
        "deadline": deadline,
        "stopped": time.monotonic(),
        "threads": threads,
        "paths": paths,
        "marker_path": marker_path,
        "records": [r for records in per_thread for r in records],
    }
    if stream is not None:
        result["stream"] = {
            "queries": stream.queries,
            "distinct": len(stream.seen),
            "repeats": stream.repeats,
            "words": len(stream.words),
        }
    return result


class _CountingConnection(http.client.HTTPConnection):
    """An HTTPConnection that counts how often it (re)connects."""

    connects = 0

    def connect(self) -> None:
        self.connects += 1
        super().connect()


def _main_thread_cpu_ns(pid: int) -> int | None:
    """Nanoseconds the main thread of *pid* has run (``/proc/PID/schedstat``), or None.

    A gunicorn sync worker accepts and answers requests in its main thread,
    which otherwise wakes once per half ``--timeout``: a growth within a
    warm-up round means it answered a request.
    """
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_passes(spec: dict[str, Any]) -> dict[str, Any]:
    """One client, sequential, one connection: warm-up, then every path once per pass."""
    port = int(spec["port"])
    paths: list[str] = list(spec["paths"])
    warmup_paths: list[str] = list(spec.get("warmup_paths") or [])
    warm_pids = [int(p) for p in spec.get("warm_pids") or []]
    max_rounds = int(spec.get("max_warmup_rounds", 20))
    conn = _CountingConnection(HOST, port, timeout=float(spec.get("timeout", 60.0)))

    def get(path: str) -> dict[str, Any]:
        status, error, processing, timing = 0, None, None, None
        t0 = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
            t1 = time.perf_counter()
            status = response.status
            timing = response.getheader("Server-Timing")
            if status != 200:
                error = f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
            else:
                try:
                    processing = json.loads(body).get("processingTimeMs")
                except ValueError as exc:
                    error = f"bad JSON in a 200 answer: {exc}"
        except Exception as exc:  # noqa: BLE001 - every failure is a record
            t1 = time.perf_counter()
            error = f"{type(exc).__name__}: {exc}"
            conn.close()
        return {
            "ms": (t1 - t0) * 1000,
            "status": status,
            "error": error,
            "processing_ms": processing,
            "server_timing": timing,
            "connections": conn.connects,
        }

    before = {pid: _main_thread_cpu_ns(pid) for pid in warm_pids}
    known = None not in before.values()

    def all_answered() -> bool:
        return all((_main_thread_cpu_ns(pid) or 0) > (before[pid] or 0) for pid in warm_pids)

    rounds, warm_ms = 0, []
    while warmup_paths and rounds < max_rounds:
        warm_ms.extend(get(p)["ms"] for p in warmup_paths)
        rounds += 1
        if all_answered() if known else rounds >= 3 * max(1, len(warm_pids)):
            break
    out: dict[str, Any] = {
        "warmup": {
            "rounds": rounds,
            "ms": warm_ms,
            "all_answered": all_answered() if known else None,  # None: unreadable
        },
        "passes": {},
    }
    out["connections"] = {}
    for name in spec["passes"]:
        records = []
        connects = conn.connects
        for i, path in enumerate(paths):
            record = get(path)
            record["i"] = i
            records.append(record)
        out["passes"][name] = records
        out["connections"][name] = conn.connects - connects
    conn.close()
    return out


def _client_main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: httpload.py SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = run_passes(spec) if spec.get("mode") == "passes" else run_client(spec)
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


def server_env(index_dir: Path) -> dict[str, str]:
    """A benchmark server's environment: the index, no rate limit, this checkout's code."""
    env = {
        **os.environ,
        "BLOGSEARCH_INDEX_DIR": str(index_dir),
        "BLOGSEARCH_RATE_LIMIT": "",  # one client address sends everything
    }
    env.pop("BLOGSEARCH_CONFIG", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
    return env


def loaded_code(env: dict[str, str] | None = None) -> dict[str, str]:
    """The files ``search`` and ``web`` come from for this venv's Python with *env*
    (the servers' environment by default), started from the repository root."""
    proc = subprocess.run(
        [sys.executable, "-c", "import search, web; print(search.__file__); print(web.__file__)"],
        cwd=REPO,
        env=env or server_env(REPO / "index"),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) != 2:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return {"search": lines[0], "web": lines[1]}


# --- process memory -----------------------------------------------------------------

SMAPS_FIELDS = {
    "Rss": "rss_mb",
    "Pss": "pss_mb",
    "Pss_Anon": "pss_anon_mb",
    "Pss_File": "pss_file_mb",
    "Pss_Shmem": "pss_shmem_mb",
}


def memory_of(pid: int) -> dict[str, float] | None:
    """RSS and PSS of *pid* in MB (2**20 bytes), PSS split into anonymous, file and
    shared memory, from ``/proc/PID/smaps_rollup``; None if it is gone or unreadable."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    except (OSError, ValueError):
        return None
    out: dict[str, float] = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        if key in SMAPS_FIELDS and rest.split():
            out[SMAPS_FIELDS[key]] = int(rest.split()[0]) / 1024
    return out if "pss_mb" in out else None


def child_pids(pid: int) -> list[int]:
    """The children of *pid*: ``/proc/PID/task/*/children``, else ``/proc/*/stat``."""
    kids: set[int] = set()
    listed = False
    for f in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            kids.update(int(x) for x in f.read_text(encoding="ascii").split())
            listed = True
    if not listed:  # a kernel without CONFIG_PROC_CHILDREN
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1]
                if int(fields.split()[1]) == pid:
                    kids.add(int(stat.parent.name))
    return sorted(kids)


# --- servers ------------------------------------------------------------------------


class _Server:
    """A server process on a free loopback port, healthy once ``/api/health`` answers."""

    kind = "server"
    forks = False  # whether requests are answered by child processes

    def __init__(self, index_dir: Path, log_path: Path, start_timeout: float = 120.0):
        self.index_dir = Path(index_dir)
        self.log_path = Path(log_path)
        self.start_timeout = start_timeout
        self.workers = 1
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.started_in = 0.0
        self.command: list[str] = []

    def command_for(self, port: int) -> list[str]:
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        env = server_env(self.index_dir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        for attempt in range(3):  # the free port may be taken before the server binds it
            self.port = free_port()
            self.command = self.command_for(self.port)
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
        raise RuntimeError(f"{self.kind} did not become healthy:\n{self.log_tail()}")

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

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def children(self) -> list[int]:
        return child_pids(self.pid) if self.pid is not None else []

    def worker_pids(self, wait: float = 10.0) -> list[int]:
        """The processes that answer requests: the server itself, or (a forking
        server) its children once all ``workers`` run (at most *wait* seconds)."""
        if self.pid is None:
            return []
        if not self.forks:
            return [self.pid]
        deadline = time.monotonic() + wait
        kids = self.children()
        while len(kids) < self.workers and time.monotonic() < deadline:
            time.sleep(0.1)
            kids = self.children()
        return kids

    def memory(self) -> dict[str, Any]:
        """``{"main": {pid, rss_mb, pss_mb, ...}, "children": [...]}`` right now."""

        def one(pid: int) -> dict[str, Any]:
            return {"pid": pid, **(memory_of(pid) or {})}

        return {
            "main": one(self.pid) if self.pid is not None else None,
            "children": [one(pid) for pid in self.children()],
        }

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


class GunicornServer(_Server):
    """``gunicorn --preload -w N 'web:create_app()'`` on a free loopback port."""

    kind = "gunicorn"
    forks = True

    def __init__(
        self,
        index_dir: Path,
        log_path: Path,
        workers: int = 2,
        start_timeout: float = 120.0,
        extra_args: tuple[str, ...] = (),
    ):
        super().__init__(index_dir, log_path, start_timeout)
        self.workers = workers
        self.extra_args = tuple(extra_args)

    def command_for(self, port: int) -> list[str]:
        return [
            gunicorn_exe(),
            "--preload",
            "-w",
            str(self.workers),
            "-b",
            f"{HOST}:{port}",
            "--graceful-timeout",
            "5",
            *gunicorn_extra_args(),
            *self.extra_args,
            "web:create_app()",
        ]


class ServeServer(_Server):
    """``blogsearch serve`` (Werkzeug's threaded development server, as ``make run``)."""

    kind = "blogsearch serve"

    def command_for(self, port: int) -> list[str]:
        return [
            blogsearch_exe(),
            "serve",
            "--index-dir",
            str(self.index_dir),
            "--host",
            HOST,
            "--port",
            str(port),
        ]


def run_client_process(spec: dict[str, Any], workdir: Path, name: str, timeout: float) -> Any:
    """Run the client process on *spec* to its end; returns what it wrote."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec_file, out_file = workdir / f"{name}.spec.json", workdir / f"{name}.out.json"
    out_file.unlink(missing_ok=True)
    spec_file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(spec_file), str(out_file)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0 or not out_file.is_file():
        raise RuntimeError(f"client {name} exited with {proc.returncode}:\n{proc.stderr}")
    return json.loads(out_file.read_text(encoding="utf-8"))


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
        stream: dict[str, Any] | None = None,
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
            "stream": stream,
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

    def wait(self, timeout: float) -> bool:
        """Whether the client process has ended, waiting *timeout* seconds at most."""
        try:
            self.proc.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return False
        return True

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
