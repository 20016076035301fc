"""Import a large generated contact CSV through the real SQS handler into DynamoDB Local, next to two baselines.

The file is realistic (mixed US number formats, 2% invalid numbers, 1% numbers
repeated in another format, accented names, quoted cells) and deterministic
(`--seed`). Each stage runs in a child process of its own, so its peak RSS
(VmHWM, the Python processes only, not DynamoDB Local's JVM) is its own: the
import's is its handler's process plus the writer process that sends its
BatchWriteItem requests (`chalicelib.models.batch_writes`), and
each stage that writes gets a fresh in-memory DynamoDB Local, warmed up the
same way on a scratch table, so every one starts from empty tables and an
engine in the same state.

- import: the file is uploaded to moto's S3, then the S3 notification is
  delivered to the real `import_files` handler (`chalice.test.Client`), and
  every resume message the runs enqueue is delivered too, until the imports
  queue is empty. The test client's Lambda context has 3 s left, which leaves
  a negative budget after the handler's 30 s margin (one step per run), so
  `Budget.from_lambda` is patched to the budget a deployed worker gets
  (`--budget`, the 300 s worker timeout minus the margin). Timed: every
  handler run and the queue read after it, from job creation to the results
  (summary and rejected.csv) written at the end; the upload is not timed.
- ceiling: raw BatchWriteItem (25 items a request) of the Contact items the
  import creates, built by the model (same index keys) before each slice's
  writes are timed; one writer, with the import's client settings (no
  parameter validation), as the import has one writer process.
- ceiling with reads: the same writes while another thread reads every
  number first (BatchGetItem, 100 keys a request, consistent), which an
  upsert cannot skip: it must know whether each contact exists. DynamoDB
  Local serves about one request at a time and a key read costs it about
  0.2 ms against about 0.5 ms for a written contact, so this is about the
  fastest any upsert of the file can go on this engine.
- parse: the file read from disk in the handler's chunk size, `open_csv` and
  `parse_contact_row` on every row, no writes.

The three writing stages run side by side, each in its own process with its
own DynamoDB Local, and take turns of one import step (5,000 numbers, a few
seconds): each time a step has landed, the import's processes (the handler's
and its writer's) are stopped with SIGSTOP, each ceiling writes the rows the
import has landed so far, and the import is continued with SIGCONT. The
stopped time is left out of the import's seconds and out of its budget, so
its runs, steps and requests are those of a deployed worker. Only one stage
works at a time, and the engine's drift falls on all three alike: it moves
over minutes (the same ceiling has taken 68 s in one run of this script and
135 s in another), and turns of a whole Lambda run let identical ceilings
disagree by up to 11%, where turns of seconds kept them within 3%.

rows/s is always the file's data rows divided by the stage's seconds, so the
ceiling's figure is how fast the file would go if writing its unique contacts
were the only cost, and "% ceiling" compares like with like.

    .venv/bin/python benchmarks/import.py [--rows 1000000] [--small 100000] [--skip-large] [--budget 270]
    .venv/bin/python benchmarks/import.py --profile 20000    # cProfile of the import alone
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import ROOT, configure, engine_cpu_seconds, fresh_dynamodb, put_all, read_numbers, start_moto, warm_up

SEED = 20240611
HEADER = ("number", "first_name", "last_name", "email", "city", "state", "zip")
INVALID_SHARE = 0.02
DUPLICATE_SHARE = 0.01
WORKER_BUDGET = 270.0
"""A deployed import worker's run: the 300 s queue-consumer timeout less `Budget.from_lambda`'s 30 s margin."""
IMPORT_TARGET = 0.80
CEILING = "ceiling: BatchWriteItem, 1 writer"
READS_CEILING = "ceiling with reads, 1 writer"
RSS_TARGET = 1.2
WRITER_CALLS = "dynamodb.BatchWriteItem (writer process)"
SAMPLE_EVERY = 9_973
"""Every so many new numbers, one is kept to check after the import that its contact exists."""

AREA_CODES = (
    512, 737, 214, 469, 972, 713, 281, 832, 210, 726, 817, 682, 915, 806, 254,
    361, 409, 903, 936, 979, 415, 646, 312, 206, 305, 404, 602, 303, 617, 702,
)  # fmt: skip
"""Every exchange 200-999 is a valid number in each (checked with phonenumbers)."""
_PER_AREA = 800 * 10_000
_SPACE = len(AREA_CODES) * _PER_AREA
_STRIDE = 152_587_891
"""Coprime with _SPACE (2^10 * 3 * 5^7): j -> j * _STRIDE mod _SPACE gives every contact a distinct number."""
FORMATS: tuple[Callable[[int, int, int], str], ...] = (
    lambda a, x, n: f"({a}) {x}-{n:04d}",
    lambda a, x, n: f"{a}-{x}-{n:04d}",
    lambda a, x, n: f"+1 {a} {x} {n:04d}",
    lambda a, x, n: f"1{a}{x}{n:04d}",
    lambda a, x, n: f"{a}.{x}.{n:04d}",
    lambda a, x, n: f"{a}{x}{n:04d}",
    lambda a, x, n: f"+1{a}{x}{n:04d}",
    lambda a, x, n: f"1 ({a}) {x}-{n:04d}",
    lambda a, x, n: f"+1 ({a}) {x}-{n:04d}",
)
FORMAT_MIX = (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 5, 6, 6, 7, 8)
"""How often each format appears: spreadsheets favour (512) 555-0134 and 512-555-0134."""
INVALID: tuple[Callable[[random.Random, int, int, int], str], ...] = (
    lambda r, a, x, n: "",
    lambda r, a, x, n: r.choice(("n/a", "N/A", "none", "unknown", "TBD", "call me", "see notes", "-", "?")),
    lambda r, a, x, n: f"{x}-{n:04d}",
    lambda r, a, x, n: f"{a}-{x}-{n // 100:02d}",
    lambda r, a, x, n: f"({a}) 0{x % 100:02d}-{n:04d}",
    lambda r, a, x, n: f"{n:04d}",
    lambda r, a, x, n: f"{a}{x}{n:04d}{r.randrange(10)}",
)
"""Empty cells, words, numbers missing digits (no area code, a cut line), a bad exchange, one digit too many."""
FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher", "Karen",
    "José", "María", "Luis", "Guadalupe", "Juan", "Ana", "Carlos", "Sofía", "Miguel", "Lucía",
    "Wei", "Mei", "Hiroshi", "Yuki", "Minh", "Thảo", "Aarav", "Priya", "Mohammed", "Fatima",
    "Chloé", "Zoë", "Renée", "Björn", "Siobhán", "Oluwaseun", "Chidi", "Ngozi", "Dmitri", "Olga",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernández", "López", "González", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez", "Clark", "Ramírez", "Lewis", "Robinson",
    "Nguyen", "Trần", "Chen", "Wang", "Kim", "Patel", "Singh", "Okafor", "Adeyemi", "Müller",
    "O'Brien", "O'Connor", "De la Cruz", "Van der Berg", "Smith, Jr.", "Johnson-Lee", "St. John", "D'Angelo",
    "Kowalski", "Ivanova",
)  # fmt: skip
DOMAINS = (
    "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
    "att.net", "comcast.net", "utexas.edu", "acme-corp.com", "example.org",
)  # fmt: skip
CITIES = (
    ("Austin", "TX", "787"), ("Round Rock", "TX", "786"), ("Dallas", "TX", "752"), ("Plano", "TX", "750"),
    ("Houston", "TX", "770"), ("San Antonio", "TX", "782"), ("Fort Worth", "TX", "761"), ("El Paso", "TX", "799"),
    ("Lubbock", "TX", "794"), ("Corpus Christi", "TX", "784"), ("San Francisco", "CA", "941"),
    ("New York", "NY", "100"), ("Chicago", "IL", "606"), ("Seattle", "WA", "981"), ("Miami", "FL", "331"),
    ("Atlanta", "GA", "303"), ("Phoenix", "AZ", "850"), ("Denver", "CO", "802"), ("Boston", "MA", "021"),
    ("Las Vegas", "NV", "891"),
)  # fmt: skip


# --- the file


@dataclass(frozen=True)
class Record:
    """One generated row: its cells and, when its number is valid, the E.164 form and whether it is the first."""

    cells: list[str]
    number: str | None
    first: bool


@dataclass
class Expected:
    """What the import must report for the file, tallied while it is generated."""

    rows: int = 0
    created: int = 0
    rejected: int = 0
    duplicates: int = 0
    size: int = 0
    samples: list[str] = field(default_factory=list)


def number_parts(index: int) -> tuple[int, int, int]:
    """Area code, exchange and line of the `index`-th distinct number (a bijection, so never a collision)."""
    value = (index * _STRIDE + 7_777_777) % _SPACE
    area, rest = divmod(value, _PER_AREA)
    exchange, line = divmod(rest, 10_000)
    return AREA_CODES[area], 200 + exchange, line


def records(rows: int, seed: int) -> Iterator[Record]:
    """The rows of the file, from one seeded generator: the same `rows` and `seed` always give the same file."""
    from chalicelib.phone import InvalidPhoneNumber, normalize

    rng = random.Random(seed)
    distinct = 0
    for _ in range(rows):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, state, zip_prefix = rng.choice(CITIES)
        roll = rng.random()
        if roll < INVALID_SHARE:
            while True:
                text = rng.choice(INVALID)(rng, *number_parts(rng.randrange(_SPACE)))
                try:
                    normalize(text, "US")
                except InvalidPhoneNumber:
                    break
            number, is_first = None, False
        elif roll < INVALID_SHARE + DUPLICATE_SHARE and distinct:
            # Half repeat a number a few rows back (same step), half one from anywhere earlier in the file.
            recent = rng.random() < 0.5
            index = distinct - 1 - rng.randrange(min(distinct, 50)) if recent else rng.randrange(distinct)
            original = format_of(index)
            text = FORMATS[(original + 1 + rng.randrange(len(FORMATS) - 1)) % len(FORMATS)](*number_parts(index))
            number, is_first = _e164(index), False
        else:
            index, distinct = distinct, distinct + 1
            text = FORMATS[format_of(index)](*number_parts(index))
            number, is_first = _e164(index), True
        email = ""
        if rng.random() < 0.8:
            local = f"{_ascii(first)}.{_ascii(last)}" if rng.random() < 0.6 else f"{_ascii(first)[0]}{_ascii(last)}"
            email = f"{local}{rng.randrange(100) if rng.random() < 0.5 else ''}@{rng.choice(DOMAINS)}"
        cells = [
            text,
            first if rng.random() < 0.98 else "",
            last if rng.random() < 0.95 else "",
            email,
            *((city, state, f"{zip_prefix}{rng.randrange(100):02d}") if rng.random() < 0.9 else ("", "", "")),
        ]
        yield Record(cells, number, is_first)


def format_of(index: int) -> int:
    """The format the `index`-th number is first written in (a repeat of it picks another)."""
    return FORMAT_MIX[(index * 2_654_435_761 >> 8) % len(FORMAT_MIX)]


def _e164(index: int) -> str:
    area, exchange, line = number_parts(index)
    return f"+1{area}{exchange}{line:04d}"


def _ascii(name: str) -> str:
    """An email-safe form of a name: accents dropped, only letters kept, lower case."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalpha()).lower()


def write_csv(path: Path, rows: int, seed: int) -> Expected:
    """Stream the file to `path` (never held in memory) and tally what an import of it must report."""
    expected = Expected()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for record in records(rows, seed):
            writer.writerow(record.cells)
            expected.rows += 1
            if record.number is None:
                expected.rejected += 1
            elif record.first:
                expected.created += 1
                if expected.created % SAMPLE_EVERY == 1:
                    expected.samples.append(record.number)
            else:
                expected.duplicates += 1
    expected.size = path.stat().st_size
    return expected


# --- stages, each run in a child process


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM, the high-water mark of its own address space.

    Not `ru_maxrss`: Linux carries it over fork and exec, so a child started by
    a parent that holds more memory (moto keeps the uploaded files in it)
    would report the parent's peak instead of its own.
    """
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's RSS now, in MB (0 where /proc is not available)."""
    return _status_mb("VmRSS")


def _status_mb(name: str) -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{name}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_usage() -> tuple[float, float]:
    """Peak RSS in MB and CPU seconds of this process's children: the import's writer process, still running."""
    peak = cpu = 0.0
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            status = Path(f"/proc/{pid}/status").read_text()
            peak += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return peak, cpu


def time_writer_process(calls: dict[str, list[float]], waited: list[float], stops: Stops) -> None:
    """Count the import's BatchWriteItem requests, which its writer process sends where botocore here cannot see them.

    Their seconds are the writer process's own (its clock, from a call's first request to its last answer),
    less a stop it was caught in (`Stops.claim`); `waited` adds up what the import's writer thread waited for
    the answers, less than that when steps queue, and less the time it was stopped.
    """
    from chalicelib.models.batch_writes import Call, WriterProcess, Written

    result, send = Call.result, WriterProcess.send
    sent_after: dict[Call, int] = {}

    def counted(writer: WriterProcess, requests: Any) -> Call:
        stops_before = len(stops.each)
        call = send(writer, requests)
        sent_after[call] = stops_before
        return call

    def timed(call: Call) -> Written:
        started, stopped = time.perf_counter(), stops.seconds
        written = result(call)
        waited[0] += time.perf_counter() - started - (stops.seconds - stopped)
        entry = calls.setdefault(WRITER_CALLS, [0, 0.0])
        entry[0] += written.requests
        entry[1] += written.seconds - stops.claim(sent_after.pop(call), written.seconds)
        return written

    Call.result = timed  # type: ignore[method-assign]
    WriterProcess.send = counted  # type: ignore[method-assign]


def time_aws_calls(stops: Stops) -> dict[str, list[float]]:
    """Count and time every AWS request at botocore ("service.Operation" -> [requests, seconds]), stops left out."""
    from botocore.client import BaseClient

    calls: dict[str, list[float]] = {}
    original = BaseClient._make_api_call

    def timed(self: BaseClient, operation_name: str, api_params: dict) -> dict:
        started, stopped = time.perf_counter(), stops.seconds
        try:
            return original(self, operation_name, api_params)
        finally:
            entry = calls.setdefault(f"{self.meta.service_model.service_name}.{operation_name}", [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - started - (stops.seconds - stopped)

    BaseClient._make_api_call = timed  # type: ignore[method-assign]
    return calls


class Channel:
    """A stage's side of its turns: commands from the parent on stdin, answers on a pipe of their own.

    Not stdout: the handler under test logs there.
    """

    def __init__(self, reply_fd: int) -> None:
        self._answers = os.fdopen(reply_fd, "w")

    def commands(self) -> Iterator[dict[str, Any]]:
        """Tell the parent this stage is set up, then each command until the parent closes stdin."""
        self.answer({"ready": True})
        for line in sys.stdin:
            yield json.loads(line)

    def answer(self, payload: dict[str, Any]) -> None:
        self._answers.write(json.dumps(payload) + "\n")
        self._answers.flush()


def stage_parse(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Read and validate every row as the import does, writing nothing: what reading the file costs by itself."""
    from chalicelib.bulk.contact_rows import RowRejected, parse_contact_row
    from chalicelib.bulk.csv_stream import open_csv
    from chalicelib.bulk.headers import map_contact_columns
    from chalicelib.storage import READ_CHUNK_BYTES

    def chunks() -> Iterator[bytes]:
        with open(spec["csv"], "rb") as file:
            while chunk := file.read(READ_CHUNK_BYTES):
                yield chunk

    start_rss = peak_rss_mb()
    started = time.perf_counter()
    opened = open_csv(chunks())
    columns = map_contact_columns(opened.header, []).fields
    rows = rejected = 0
    for row in opened.rows:
        rows += 1
        try:
            parse_contact_row(row.cells, columns, (), "US")
        except RowRejected:
            rejected += 1
    seconds = time.perf_counter() - started
    return {"rows": rows, "items": 0, "rejected": rejected, "seconds": seconds, "start_rss_mb": start_rss}


def stage_ceiling(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """The ceiling: BatchWriteItem, 25 items a request, of the Contact items the import would create.

    Its client skips botocore's parameter validation, as PynamoDB's (which the
    import writes with) does: validating a 25-item request costs ~1.4 ms of
    Python, 9% of a request on DynamoDB Local, and the ceiling must not pay
    for work the import does not do.

    Each command names the row the import has landed up to; the items of the
    rows since the last command are built, untimed, then written, timed.
    """
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime
    from itertools import islice

    import boto3
    from botocore.config import Config

    from chalicelib.models import Contact

    reads = spec["reads"]
    client = boto3.client("dynamodb", config=Config(parameter_validation=False))
    table = Contact.Meta.table_name

    def built(rows: Iterator[Record]) -> list[dict[str, Any]]:
        """The items of the new numbers among `rows`, serialized by the model as the import's are."""
        now = datetime.now(UTC)
        items = []
        for record in rows:
            if not record.first:
                continue
            _, first, last, email, city, state, zip_code = record.cells
            contact = Contact(record.number, created_at=now, updated_at=now, version=1)
            contact.import_stamp = "imp_ceiling#0#created"
            for name, value in (("first_name", first), ("last_name", last), ("email", email), ("city", city)):
                if value:
                    setattr(contact, name, value)
            if state:
                contact.state, contact.zip = state, zip_code
            items.append(contact.serialize())
        return items

    file = records(spec["rows"], spec["seed"])
    start_rss = peak_rss_mb()
    seconds = 0.0
    items = requests = done = 0
    with ThreadPoolExecutor(1) as reader:
        for command in channel.commands():
            batch = built(islice(file, command["rows_to"] - done))
            done = command["rows_to"]
            started = time.perf_counter()
            numbers = [item["number"]["S"] for item in batch]
            reading = reader.submit(read_numbers, client, table, numbers, ConsistentRead=True) if reads else None
            requests += put_all(client, table, batch)
            if reading is not None:
                reading.result()
            elapsed = time.perf_counter() - started
            seconds += elapsed
            items += len(numbers)
            channel.answer({"seconds": elapsed})
    return {"rows": done, "items": items, "requests": requests, "seconds": seconds, "start_rss_mb": start_rss}


class Stops:
    """How long the parent has kept this stage stopped, so that its clocks can leave that time out.

    After each step lands, the import tells the parent (`landed`) and waits
    on stdin until it has been stopped, the ceilings have had their turns,
    and it has been continued; the parent's message says for how long.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.each: list[float | None] = []
        """Each stop's seconds, until a writer process call's seconds are found to hold it (then None)."""

    def after_landing(self, channel: Channel, rows: int) -> None:
        channel.answer({"landed": rows})
        seconds = json.loads(sys.stdin.readline())["seconds"]
        self.seconds += seconds
        self.each.append(seconds)

    def claim(self, since: int, seconds: float) -> float:
        """The stop a writer process call of `seconds` was caught in, if any, among the stops since its sending.

        The writer's clock runs while it is stopped, so a call it was in when
        the import was stopped took at least that stop. Its own work is
        under a second (1,000 contacts) and a stop is a ceiling's turn at
        writing a step (seconds), so the first unclaimed stop since the call
        was sent and no longer than the call is the one it holds.
        """
        for index in range(since, len(self.each)):
            stop = self.each[index]
            if stop is not None and stop <= seconds:
                self.each[index] = None
                return stop
        return 0.0


def stage_import(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """The file's S3 notification through the real handler, then every resume message, until the queue is empty.

    One handler run a command; the answer says how many rows the job has read so far and whether it is done.
    Before it, an answer with `landed` after each step that has landed, for the parent to stop the import and
    give the ceilings their turns (`Stops`); the handler's budget and every figure leave that time out.
    """
    import boto3
    from chalice.test import Client

    from app import app
    from chalicelib.budget import Budget
    from chalicelib.models import Contact, ImportJob
    from chalicelib.services import import_jobs, import_steps, imports

    stops = Stops()

    class RunningBudget(Budget):
        """A deployed worker's budget on a clock that stands still while the import is stopped."""

        def exhausted(self) -> bool:
            return time.monotonic() - stops.seconds >= self.deadline

    budget = spec["budget"]
    imports.Budget.from_lambda = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, context, margin_seconds=30.0: RunningBudget(time.monotonic() - stops.seconds + budget)
    )
    write_contacts = import_steps.write_contacts
    landed = [0]

    def announced(job: Any, step: Any, plan: Any) -> bool:
        moved = write_contacts(job, step, plan)
        if moved:
            landed[0] += step.rows
            stops.after_landing(channel, landed[0])
        return moved

    import_steps.write_contacts = announced
    finish_seconds = [0.0]
    finish = imports._finish

    memory: list[list[Any]] = []
    """Where the peak RSS rose: [moment, RSS now, peak so far] after each handler run and around the results."""

    def timed_finish(job: Any, failed: str | None = None) -> None:
        memory.append(["before results", rss_mb(), peak_rss_mb()])
        started = time.perf_counter()
        finish(job, failed)
        finish_seconds[0] += time.perf_counter() - started
        memory.append(["after results", rss_mb(), peak_rss_mb()])

    imports._finish = timed_finish  # type: ignore[assignment]
    sqs = boto3.client("sqs")
    queue_url = os.environ["IMPORTS_QUEUE_URL"]
    etag = boto3.client("s3").head_object(Bucket=os.environ["BUCKET"], Key=spec["key"])["ETag"]
    record = {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": spec["key"], "eTag": etag, "sequencer": "1"}}}

    def drain() -> list[str]:
        bodies = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    with Client(app, stage_name="local", project_dir=str(ROOT)) as client:

        def deliver(bodies: list[str]) -> None:
            event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="imports")
            result = client.lambda_.invoke("import_files", event).payload
            if result.get("batchItemFailures"):
                raise RuntimeError(f"the handler failed records: {result}")
            memory.append([f"run {sum(1 for m in memory if m[0].startswith('run')) + 1}", rss_mb(), peak_rss_mb()])

        calls = time_aws_calls(stops)
        waited = [0.0]
        time_writer_process(calls, waited, stops)

        def rows_read() -> int:
            """The job's rows so far: the benchmark's own request, left out of the import's."""
            counted = {name: list(entry) for name, entry in calls.items()}
            (job,) = ImportJob.scan()
            calls.clear()
            calls.update(counted)
            return int(job.rows or 0)

        profiler = None
        if spec.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start_rss = peak_rss_mb()
        seconds = 0.0
        pending = [json.dumps({"Records": [record]})]
        for _ in channel.commands():
            started, stopped = time.perf_counter(), stops.seconds
            deliver(pending)
            pending = drain()
            elapsed = time.perf_counter() - started - (stops.seconds - stopped)
            seconds += elapsed
            channel.answer({"seconds": elapsed, "rows": rows_read(), "done": not pending})
            if not pending:
                break
        peak = peak_rss_mb()
        if profiler is not None:
            profiler.disable()

    writer_peak, writer_cpu = children_usage()
    (job,) = [import_jobs.job_view(job) for job in ImportJob.scan()]
    found = {contact.number for contact in Contact.batch_get(spec["samples"])}
    result = {
        "rows": job["rows"],
        "items": job["created"],
        "seconds": seconds,
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak + writer_peak,
        "handler_peak_rss_mb": peak,
        "writer_peak_rss_mb": writer_peak,
        "writer_cpu_seconds": writer_cpu,
        "job": job,
        "calls": calls,
        "writer_waited_seconds": waited[0],
        "finish_seconds": finish_seconds[0],
        "memory": memory,
        "samples_missing": sorted(set(spec["samples"]) - found),
    }
    if profiler is not None:
        result["profile"] = profile_report(profiler)
        if spec.get("profile_out"):
            profiler.dump_stats(spec["profile_out"])
    return result


def profile_report(profiler: Any) -> str:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    return out.getvalue()


def stage_tables(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Create the tables and warm the engine up (`harness.warm_up`), in a process of its own, which is not measured.

    PynamoDB builds a botocore client per model (about 10 MB each), so creating
    every table in a measured stage would add over 100 MB the stage never needs.
    """
    from chalicelib.models.tables import create_tables

    create_tables()
    warm_up(spec["dynamodb"])
    return {"rows": 0, "items": 0, "seconds": 0.0, "start_rss_mb": 0.0}


STAGES = {"tables": stage_tables, "parse": stage_parse, "ceiling": stage_ceiling, "import": stage_import}


def child_main(spec: dict[str, Any]) -> None:
    """Entry point of a child: run one stage and write its figures, with the process's peak RSS, as JSON.

    Interpreter start-up and the stage's set-up come before its first turn,
    so no other stage's timed work ever shares the CPUs with them.
    """
    import warnings

    warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left")
    os.environ.update(spec["env"])
    if spec.get("dynamodb"):
        configure(spec["dynamodb"])
    result = STAGES[spec["stage"]](spec, Channel(spec["reply_fd"]))
    result.setdefault("peak_rss_mb", peak_rss_mb())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    Path(spec["result"]).write_text(json.dumps(result))


# --- the parent: files, engines, children, the table


@dataclass
class Outcome:
    label: str
    rows: int
    items: int
    seconds: float
    peak_rss_mb: float
    start_rss_mb: float
    load: float
    """The 1-minute load average when the stage ended: other work on the machine skews every figure."""
    cpu_seconds: float
    """The stage's process, every thread, from start to exit (interpreter start-up and untimed work included)."""
    engine_cpu_seconds: float
    """DynamoDB Local's JVM while the stage ran: what the stage made the engine do."""
    detail: dict[str, Any]

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class Child:
    """One stage's process: started, set up, given its turns, then its figures collected."""

    def __init__(self, label: str, spec: dict[str, Any], workdir: Path) -> None:
        self.label = label
        self.result_path = workdir / f"result-{len(list(workdir.glob('result-*')))}.json"
        read_end, write_end = os.pipe()
        spec = {**spec, "result": str(self.result_path), "reply_fd": write_end}
        print(f"  {time.strftime('%H:%M:%S')} {label} ...", file=sys.stderr, flush=True)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(write_end,),
            text=True,
            start_new_session=True,  # its own process group: the stage and its writer process stop together
        )
        os.close(write_end)
        self.answers = os.fdopen(read_end)
        self.engine_seconds = 0.0
        self.turns: list[float] = []
        self.rounds: list[float] = []
        """The stage's seconds in each import run: the import's runs, or the ceilings' turns within each."""
        self.stops: list[float] = []
        """How long the stage was kept stopped each time (the import, while the ceilings took their turns)."""

    def ready(self) -> None:
        self._answer()

    def turn(self, between: Callable[[int], None] = lambda rows: None, **command: Any) -> dict[str, Any]:
        """One command, timed by the stage; the engines' CPU meanwhile is this stage's, as the others wait.

        Each answer with `landed` (the import, after each step) stops the
        stage's processes while `between` gives the others their turns, then
        tells the stage how long that took, for it to leave out (`Stops`).
        """
        engine = engine_cpu_seconds()
        self._send(command)
        while "landed" in (answer := self._answer()):
            stopped = time.perf_counter()
            os.killpg(self.process.pid, signal.SIGSTOP)
            others = engine_cpu_seconds()
            between(answer["landed"])
            engine += engine_cpu_seconds() - others
            self.stops.append(time.perf_counter() - stopped)
            self._send({"seconds": self.stops[-1]})
            os.killpg(self.process.pid, signal.SIGCONT)
        self.engine_seconds += engine_cpu_seconds() - engine
        self.turns.append(answer["seconds"])
        return answer

    def end_round(self) -> None:
        """Close the stage's seconds for the import run that has just ended."""
        self.rounds.append(sum(self.turns) - sum(self.rounds))

    def finish(self) -> Outcome:
        assert self.process.stdin is not None
        self.process.stdin.close()
        if code := self.process.wait():
            raise RuntimeError(f"{self.label}: the child exited with code {code}")
        result = json.loads(self.result_path.read_text())
        load = os.getloadavg()[0]
        print(
            f"    {result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB, load {load:.1f}", file=sys.stderr
        )
        return Outcome(
            self.label,
            result["rows"],
            result["items"],
            result["seconds"],
            result["peak_rss_mb"],
            result["start_rss_mb"],
            load,
            result["cpu_seconds"],
            self.engine_seconds,
            {**result, "turns": self.rounds, "stops": self.stops},
        )

    def _send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def _answer(self) -> dict[str, Any]:
        line = self.answers.readline()
        if not line:
            raise RuntimeError(f"{self.label}: the child exited with code {self.process.wait()}")
        return json.loads(line)


@contextmanager
def engine(spec: dict[str, Any], workdir: Path) -> Iterator[str]:
    """A fresh DynamoDB Local with the tables created and warmed up: its endpoint."""
    with fresh_dynamodb() as endpoint:
        Child("tables and warm-up", {**spec, "stage": "tables", "dynamodb": endpoint}, workdir).finish()
        yield endpoint


def run_writers(stages: list[tuple[str, dict[str, Any]]], workdir: Path) -> list[Outcome]:
    """The import (first) and the ceilings, each with its own engine, taking turns until the import is done.

    After each step the import lands, while it is stopped, each ceiling
    writes the rows landed since its last turn; after each run, the rows
    the run read beyond them, if any.
    """
    with ExitStack() as stack:
        children = [
            Child(label, {**stage, "dynamodb": stack.enter_context(engine(stage, workdir))}, workdir)
            for label, stage in stages
        ]
        importer, *ceilings = children
        for child in children:
            child.ready()
        covered = [0]

        def catch_up(rows: int) -> None:
            if rows > covered[0]:
                for ceiling in ceilings:
                    ceiling.turn(rows_to=rows)
                covered[0] = rows

        while True:
            answer = importer.turn(catch_up, run=True)
            catch_up(answer["rows"])
            for child in children:
                child.end_round()
            if answer["done"]:
                return [child.finish() for child in children]


def prepare_bucket(moto: str, files: dict[int, tuple[Path, Expected]]) -> dict[str, str]:
    """The bucket and imports queue on moto, the files uploaded; the variables the children need to reach them."""
    import boto3

    env = {
        "AWS_ENDPOINT_URL_S3": moto,
        "AWS_ENDPOINT_URL_SQS": moto,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "BUCKET": "bench-bucket",
    }
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"]
    )
    s3 = session.client("s3", endpoint_url=moto, region_name="us-east-1")
    sqs = session.client("sqs", endpoint_url=moto, region_name="us-east-1")
    s3.create_bucket(Bucket=env["BUCKET"])
    env["IMPORTS_QUEUE_URL"] = sqs.create_queue(QueueName="imports")["QueueUrl"]
    for path, _ in files.values():
        s3.upload_file(str(path), env["BUCKET"], f"imports/contacts/{path.name}")
    return env


def check_counts(job: dict[str, Any], expected: Expected) -> list[str]:
    """Differences between the job's counts and what the generator wrote (empty when they agree)."""
    wanted = {
        "status": "done",
        "rows": expected.rows,
        "created": expected.created,
        "updated": 0,
        "unchanged": 0,
        "rejected": expected.rejected,
        "duplicates": expected.duplicates,
    }
    return [f"{name} {job[name]} (expected {value})" for name, value in wanted.items() if job[name] != value]


def print_calls(outcome: Outcome) -> None:
    """Where the import's wall time went: the AWS requests by operation; the rest is Python in the handler."""
    calls = outcome.detail["calls"]
    in_calls = sum(seconds for _, seconds in calls.values())
    print(f"\n  {outcome.label}: {outcome.seconds:.1f} s, of which AWS requests {in_calls:.1f} s (botocore included)")
    for name, (count, seconds) in sorted(calls.items(), key=lambda kv: -kv[1][1]):
        each, share = 1000 * seconds / count, 100 * seconds / outcome.seconds
        print(f"    {name:<28} {count:>8,} requests {seconds:8.1f} s {share:5.1f}%  {each:7.2f} ms each")
    other = outcome.seconds - in_calls
    print(f"    {'everything else (Python)':<28} {'':>17} {other:8.1f} s {100 * other / outcome.seconds:5.1f}%")
    print(f"    of all the above, writing the results at the end (_finish): {outcome.detail['finish_seconds']:.1f} s")
    writer = calls.get(WRITER_CALLS, [0, 0.0])[1]
    print(
        f"    the writer process was busy {writer:.1f} s ({100 * writer / outcome.seconds:.0f}% of the import);"
        f" the import's writer thread waited {outcome.detail['writer_waited_seconds']:.1f} s for its answers"
    )
    detail = outcome.detail
    print(
        f"    peak RSS {outcome.peak_rss_mb:.0f} MB = the handler's process {detail['handler_peak_rss_mb']:.0f} MB"
        f" + its writer process {detail['writer_peak_rss_mb']:.0f} MB; CPU s: handler {outcome.cpu_seconds:.0f},"
        f" writer {detail['writer_cpu_seconds']:.0f}"
    )
    marks = ", ".join(f"{moment} {now:.0f}/{peak:.0f}" for moment, now, peak in outcome.detail["memory"])
    print(f"    RSS now/peak MB from {outcome.start_rss_mb:.0f} at the start: {marks}")
    if stops := detail["stops"]:
        print(
            f"    stopped {len(stops)} times ({sum(stops):.0f} s in all) while the ceilings wrote the rows it landed;"
            " every figure above leaves that time out"
        )


def print_report(args: argparse.Namespace, files: dict[int, tuple[Path, Expected]], outcomes: list[Outcome]) -> None:
    large = max(files)
    _, expected = files[large]
    print(
        f"Contact import of a {large:,}-row CSV ({expected.size / 1e6:.1f} MB: {expected.created:,} new numbers, "
        f"{expected.rejected:,} invalid, {expected.duplicates:,} repeats)\n"
        f"DynamoDB Local fresh per stage; handler budget {args.budget:.0f} s a run; {os.cpu_count()} CPUs\n"
    )
    ceilings = {o.rows: o for o in outcomes if o.label == CEILING}
    heading = f"{'stage':<34} {'rows':>10} {'items':>10} {'seconds':>8} {'rows/s':>7} {'% ceiling':>9}"
    print(f"  {heading} {'peak RSS MB':>11} {'CPU s':>6} {'engine':>6} {'load':>5}")
    for o in outcomes:
        share = f"{100 * o.rate / ceilings[o.rows].rate:.0f}%" if o.rows in ceilings else "-"
        print(
            f"  {o.label:<34} {o.rows:>10,} {o.items:>10,} {o.seconds:>8.1f} {o.rate:>7,.0f} {share:>9} "
            f"{o.peak_rss_mb:>11.0f} {o.cpu_seconds:>6.0f} {o.engine_cpu_seconds:>6.0f} {o.load:>5.1f}"
        )
    print(
        "\n  rows/s: the file's data rows / the stage's seconds. items: contacts written (ceiling) or created (import);"
        "\n  % ceiling: against the 1-writer ceiling of the same file. load: 1-minute load average at the stage's end."
        "\n  The writing stages took turns, one import step then the same rows in each ceiling (see the docstring)."
        "\n  CPU s: the stage's Python process, untimed work included (the import's writer process apart, below);"
        "\n  engine: DynamoDB Local's CPU seconds meanwhile."
    )
    imported = {o.rows: o for o in outcomes if o.label.startswith("import")}
    print()
    for rows, outcome in imported.items():
        job = outcome.detail["job"]
        problems = check_counts(job, files[rows][1])
        missing = outcome.detail["samples_missing"]
        counts = ", ".join(f"{name} {job[name]:,}" for name in ("created", "rejected", "duplicates", "runs"))
        verdict = "match the file" if not problems else f"DIFFER: {'; '.join(problems)}"
        sampled = "all found" if not missing else f"MISSING {missing}"
        print(
            f"  {outcome.label}: {counts}; counts {verdict}; {len(files[rows][1].samples)} sampled contacts {sampled}"
        )
    for outcome in imported.values():
        print_calls(outcome)
        if outcome.rows in ceilings:
            turns = zip(outcome.detail["turns"], ceilings[outcome.rows].detail["turns"], strict=True)
            shares = ", ".join(f"{ceiling / run:.0%} ({run:.0f} s)" for run, ceiling in turns)
            print(f"    each run against the 1-writer ceiling writing the same rows: {shares}")

    big = imported[large]
    if large in ceilings:
        share = big.rate / ceilings[large].rate
        verdict = "PASS" if share >= IMPORT_TARGET else "FAIL"
        target = f"target >= {IMPORT_TARGET:.0%}"
        print(f"\n  import at {share:.0%} of the 1-writer ceiling at {large:,} rows ({target}): {verdict}")
    with_reads = {o.rows: o for o in outcomes if o.label == READS_CEILING}
    for rows, outcome in imported.items():
        if rows in with_reads:
            bound = with_reads[rows].rate / ceilings[rows].rate
            print(
                f"  at {rows:,} rows: the ceiling with reads is {bound:.0%} of the 1-writer ceiling; "
                f"the import is {outcome.rate / with_reads[rows].rate:.0%} of the ceiling with reads"
            )
    if len(imported) > 1:
        small = imported[min(imported)]
        ratio = big.peak_rss_mb / small.peak_rss_mb
        verdict = "PASS" if ratio <= RSS_TARGET else "FAIL"
        print(
            f"  import peak RSS {big.peak_rss_mb:.0f} MB at {large:,} rows vs {small.peak_rss_mb:.0f} MB at "
            f"{small.rows:,}: {ratio:.2f}x (target <= {RSS_TARGET}x): {verdict}"
        )
        print(
            f"  (RSS when the import started: {big.start_rss_mb:.0f} MB and {small.start_rss_mb:.0f} MB; grew by "
            f"{big.peak_rss_mb - big.start_rss_mb:.0f} MB and {small.peak_rss_mb - small.start_rss_mb:.0f} MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large file")
    parser.add_argument("--small", type=int, default=100_000, help="rows of the small file (RSS comparison)")
    parser.add_argument("--skip-large", action="store_true", help="run every stage on the small file only")
    parser.add_argument("--only-import", action="store_true", help="skip the baselines (RSS comparison only)")
    parser.add_argument("--budget", type=float, default=WORKER_BUDGET, help="seconds per handler run")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", type=int, metavar="ROWS", help="only profile an import of ROWS rows")
    parser.add_argument("--profile-out", metavar="PATH", help="with --profile: also save the raw pstats there")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return

    sizes = [args.profile] if args.profile else [args.small] if args.skip_large else [args.small, args.rows]
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        workdir = Path(tmp)
        files: dict[int, tuple[Path, Expected]] = {}
        for rows in sizes:
            started = time.perf_counter()
            path = workdir / f"bench-{rows}.csv"
            files[rows] = (path, write_csv(path, rows, args.seed))
            print(f"  generated {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

        server, moto = start_moto()
        try:
            env = prepare_bucket(moto, files)

            def spec(stage: str, rows: int, **extra: Any) -> dict[str, Any]:
                path, expected = files[rows]
                key = f"imports/contacts/{path.name}"
                return {"stage": stage, "rows": rows, "seed": args.seed, "csv": str(path), "env": env, "key": key,
                        "samples": expected.samples, "budget": args.budget, **extra}  # fmt: skip

            if args.profile:
                out = args.profile_out and str(Path(args.profile_out).resolve())
                stage = spec("import", args.profile, profile=True, profile_out=out)
                (outcome,) = run_writers([("import (profiled)", stage)], workdir)
                print(f"Import of {args.profile:,} rows under cProfile: {outcome.seconds:.1f} s")
                print_calls(outcome)
                print(outcome.detail["profile"])
                return

            outcomes = []
            for rows in sizes:
                stages = [("import through the handler", spec("import", rows))]
                if not args.only_import:
                    stages.append((CEILING, spec("ceiling", rows, reads=False)))
                    stages.append((READS_CEILING, spec("ceiling", rows, reads=True)))
                outcomes.extend(run_writers(stages, workdir))
                if rows == sizes[-1] and not args.only_import:
                    outcomes.append(Child("parse + normalize, no writes", spec("parse", rows), workdir).finish())
        finally:
            server.stop()
    print_report(args, files, outcomes)


if __name__ == "__main__":
    main()
