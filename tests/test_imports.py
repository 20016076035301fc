"""Contact imports end to end: a file dropped in the bucket, the SQS handler, DynamoDB Local, results in the bucket."""

from __future__ import annotations

import csv
import io
import json
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.models import Contact, ImportJob, ImportRejection, OptOut
from chalicelib.models.batch_writes import Call
from chalicelib.services import (
    campaigns,
    contacts,
    custom_fields,
    groups,
    import_jobs,
    import_steps,
    imports,
    optout_import_steps,
    optouts,
)
from tests.conftest import Bucket

HEADER = "number,first_name,last_name,email,city\n"


def s3_event(key: str, etag: str = "etag-1", sequencer: str = "0001") -> str:
    record = {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key, "eTag": etag, "sequencer": sequencer}}}
    return json.dumps({"Records": [record]})


def deliver(client: Any, *bodies: str) -> dict[str, Any]:
    """What SQS would hand the import Lambda, run through the real handler."""
    event = client.events.generate_sqs_event(message_bodies=list(bodies), queue_name="imports")
    return client.lambda_.invoke("import_files", event).payload


def deliver_all(client: Any, bucket: Bucket, *bodies: str) -> None:
    """Deliver `bodies`, then every resume message the runs enqueue, until the queue is empty."""
    deliver(client, *bodies)
    while pending := bucket.drain():
        deliver(client, *pending)


def drop(client: Any, bucket: Bucket, key: str, body: bytes) -> dict[str, Any]:
    """Put a file in the bucket and deliver its notification and every resume message."""
    put = bucket.put(key, body)
    deliver_all(client, bucket, s3_event(key, put["ETag"]))
    (job,) = [j for j in ImportJob.scan() if j.key == key]
    return import_jobs.job_view(job)


def first_call_waits(original: Callable[..., Any], event: threading.Event, waited: list[bool]) -> Callable[..., Any]:
    """`original`, whose first call first waits (up to 10 s) for `event`; `waited` records whether it came."""

    def waiting(*args: Any) -> Any:
        if not waited:
            waited.append(event.wait(10))
        return original(*args)

    return waiting


def counts(job: dict[str, Any]) -> dict[str, int]:
    return {k: job[k] for k in ("rows", "created", "updated", "unchanged", "rejected", "duplicates")}


def test_a_dropped_file_imports_and_writes_its_results(client, bucket):
    body = (
        HEADER
        + "(512) 555-0101,Maria,Garcia,maria@example.com,Austin\n"
        + "512-555-0102,James,,not-an-email,\n"
        + "12,Short,,,\n"
        + ",No,Number,,\n"
        + "+1 512 555 0103,Mei,Chen,,Seattle\n"
        + "5125550101,,Garcia-Lopez,,\n"
    ).encode()
    job = drop(client, bucket, "imports/contacts/spring.csv", body)

    assert job["status"] == "done"
    assert counts(job) == {"rows": 6, "created": 2, "updated": 0, "unchanged": 0, "rejected": 3, "duplicates": 1}
    maria = Contact.get("+15125550101")
    assert (maria.first_name, maria.last_name, maria.city) == ("Maria", "Garcia-Lopez", "Austin")
    assert Contact.get("+15125550103").city == "Seattle"

    summary = json.loads(bucket.read(job["summary"]))
    assert counts(summary) == counts(job)
    assert "spring.csv" in job["summary"] and "spring.csv" in job["rejected_file"]
    rejected = list(csv.reader(io.StringIO(bucket.read(job["rejected_file"]).decode())))
    assert rejected[0] == ["number", "first_name", "last_name", "email", "city", "reason"]
    assert [row[:2] for row in rejected[1:]] == [["512-555-0102", "James"], ["12", "Short"], ["", "No"]]
    reasons = [row[-1] for row in rejected[1:]]
    assert (
        reasons[0].startswith("bad email")
        and reasons[1].startswith("invalid number")
        and reasons[2] == ("missing number")
    )


SPREADSHEET = "the spreadsheet turned this column into numbers and dropped digits"
LETTERS = "letters mixed with digits: not a phone number"


def test_spreadsheet_numbers_and_words_with_digits_are_rejected_rows_between_kept_ones(client, bucket):
    body = (
        HEADER
        + "(512) 555-0101,Maria,,,\n"
        + "1.51255513E+10,Excel,,,\n"
        + "512-555-0102,James,,,\n"
        + "order 4 4791 1123 456,Order,,,\n"
        + "\u0665\u0661\u0662\u0665\u0665\u0665\u0660\u0661\u0660\u0663 ext 7,Mei,,,\n"
    ).encode()
    job = drop(client, bucket, "imports/contacts/excel.csv", body)

    assert counts(job) == {"rows": 5, "created": 3, "updated": 0, "unchanged": 0, "rejected": 2, "duplicates": 0}
    assert [Contact.get(n).first_name for n in ("+15125550101", "+15125550102", "+15125550103")] == [
        "Maria",
        "James",
        "Mei",
    ]
    for once_stored_as in ("+15125551310", "+447911123456"):
        with pytest.raises(Contact.DoesNotExist):
            Contact.get(once_stored_as)
    rejected = list(csv.reader(io.StringIO(bucket.read(job["rejected_file"]).decode())))
    assert [(row[0], row[1]) for row in rejected[1:]] == [
        ("1.51255513E+10", "Excel"),
        ("order 4 4791 1123 456", "Order"),
    ]
    assert rejected[1][-1].startswith(f"invalid number '1.51255513E+10': {SPREADSHEET}")
    assert rejected[2][-1] == f"invalid number 'order 4 4791 1123 456': {LETTERS}"


def test_an_optout_list_refuses_the_same_numbers(client, bucket):
    body = b'phone\n"1,51255513E+10"\n5125550104\ncall 512 555 0105\n'
    job = drop(client, bucket, "imports/optouts/excel.csv", body)
    assert counts(job) == {"rows": 3, "created": 1, "updated": 0, "unchanged": 0, "rejected": 2, "duplicates": 0}
    rejected = list(csv.reader(io.StringIO(bucket.read(job["rejected_file"]).decode())))
    assert [row[0] for row in rejected[1:]] == ["1,51255513E+10", "call 512 555 0105"]
    assert SPREADSHEET in rejected[1][-1] and LETTERS in rejected[2][-1]


def test_rejected_rows_are_kept_a_few_items_a_step_and_come_back_whole_and_in_order(client, bucket):
    """300 rejected rows of 2 KB fill three items of at most 256 KB, not 300; rejected.csv has every one."""
    notes = [f"row {n} " + "x" * 2000 for n in range(300)]
    rows = [f"not a number,Name{n},,{note}," for n, note in enumerate(notes)] + ["5125550101,Kept,,,"]
    job = drop(client, bucket, "imports/contacts/wide.csv", (HEADER + "\n".join(rows) + "\n").encode())

    assert counts(job) == {"rows": 301, "created": 1, "updated": 0, "unchanged": 0, "rejected": 300, "duplicates": 0}
    (stored,) = list(ImportJob.scan())
    assert len(list(ImportRejection.query(stored.id))) == 3
    rejected = list(csv.reader(io.StringIO(bucket.read(job["rejected_file"]).decode())))
    assert [row[1] for row in rejected[1:]] == [f"Name{n}" for n in range(300)]
    assert [row[3] for row in rejected[1:]] == notes


def test_blank_cells_leave_fields_and_opt_outs_are_never_touched(client, bucket):
    contacts.create_contact({"number": "5125550101", "first_name": "Maria", "city": "Austin"})
    optouts.opt_out("+15125550101", optouts.Scope(), source="keyword", actor="+15125550101")
    job = drop(client, bucket, "imports/contacts/update.csv", (HEADER + "5125550101,,Garcia,,\n").encode())

    assert counts(job) | {"updated": job["updated"]} == {**counts(job), "updated": 1}
    maria = Contact.get("+15125550101")
    assert (maria.first_name, maria.last_name, maria.city) == ("Maria", "Garcia", "Austin")
    assert maria.opt_status == "opted_out"


def test_reimporting_the_same_data_changes_nothing(client, bucket):
    body = (HEADER + "5125550101,Maria,Garcia,maria@example.com,Austin\n5125550102,James,Okafor,,\n").encode()
    first = drop(client, bucket, "imports/contacts/a.csv", body)
    again = drop(client, bucket, "imports/contacts/b.csv", body)
    assert (first["created"], again["created"], again["updated"], again["unchanged"]) == (2, 0, 0, 2)


def test_a_redelivered_notification_does_not_import_twice(client, bucket):
    key = "imports/contacts/once.csv"
    put = bucket.put(key, (HEADER + "5125550101,Maria,,,\n5125550102,James,,,\n").encode())
    for _ in range(3):
        deliver_all(client, bucket, s3_event(key, put["ETag"]))
    (job,) = list(ImportJob.scan())
    assert (job.status, job.rows, job.created) == ("done", 2, 2)
    assert len(list(Contact.scan())) == 2


def test_a_tiny_time_budget_pauses_and_resumes_to_the_same_result(client, bucket, monkeypatch):
    monkeypatch.setattr(import_steps, "CONTACT_STEP_NUMBERS", 100)
    monkeypatch.setattr(import_steps, "QUEUED_NUMBERS", 30)
    rows = [f"51255{n:05d},Name{n},Last{n % 7},,City{n % 3}" for n in range(450)]
    rows[10] = "not a number,x,,,"
    rows[300] = rows[20]
    body = (HEADER + "\n".join(rows) + "\n").encode()

    whole = drop(client, bucket, "imports/contacts/whole.csv", body)
    for contact in Contact.scan():
        contact.delete()

    monkeypatch.setattr(imports.Budget, "from_lambda", classmethod(lambda cls, context: cls.seconds(0)))
    paused = drop(client, bucket, "imports/contacts/paused.csv", body)

    assert paused["runs"] > 3, "each run took one step, then handed the rest on"
    assert counts(paused) == counts(whole)
    assert counts(whole) == {"rows": 450, "created": 448, "updated": 0, "unchanged": 0, "rejected": 1, "duplicates": 1}
    assert sorted(c.number for c in Contact.scan()) == sorted(
        f"+151255{n:05d}" for n in range(450) if n not in (10, 300)
    )


def test_new_contacts_go_in_batches_and_known_ones_in_conditional_transactions(
    client, bucket, dynamodb_calls, monkeypatch
):
    contacts.create_contact({"number": "5125599999", "first_name": "Kept", "city": "Austin"})
    dynamodb_calls.clear()
    batches: list[int] = []
    original_send = import_steps.send_puts

    def counting(requests):
        call = original_send(requests)
        batches.append(call.result().requests)
        return call

    monkeypatch.setattr(import_steps, "send_puts", counting)
    rows = [f"51255{n:05d},Name{n},,,City{n % 3}" for n in range(300)] + ["5125599999,,Lee,,"]
    job = drop(client, bucket, "imports/contacts/new.csv", (HEADER + "\n".join(rows) + "\n").encode())

    assert counts(job) == {"rows": 301, "created": 300, "updated": 1, "unchanged": 0, "rejected": 0, "duplicates": 0}
    assert sum(batches) == 12, "300 new contacts, 25 a request, sent by the writer process"
    assert "BatchWriteItem" not in dynamodb_calls, "the import's own process leaves the batches to the writer"
    assert dynamodb_calls.count("TransactWriteItems") == 1, "the one known contact, conditioned on its version"
    kept = Contact.get("+15125599999")
    assert (kept.first_name, kept.last_name, kept.city) == ("Kept", "Lee", "Austin")


def test_known_contacts_are_written_while_the_new_ones_go_in_batches(client, bucket, monkeypatch):
    contacts.create_contact({"number": "5125599999", "first_name": "Kept"})
    original_changed = import_steps._write_changed
    transaction_started = threading.Event()
    overlapped: list[bool] = []

    def changing(job, step, known):
        transaction_started.set()
        return original_changed(job, step, known)

    def awaiting(call):
        overlapped.append(transaction_started.wait(10))
        return original_result(call)

    original_result = Call.result
    monkeypatch.setattr(import_steps, "_write_changed", changing)
    monkeypatch.setattr(Call, "result", awaiting)
    rows = [f"51255{n:05d},Name{n},,," for n in range(30)] + ["5125599999,,Lee,,"]
    job = drop(client, bucket, "imports/contacts/both.csv", (HEADER + "\n".join(rows) + "\n").encode())

    assert overlapped == [True], "the known contact's transaction waited for the batches"
    assert (job["created"], job["updated"]) == (30, 1)
    assert (Contact.get("+15125599999").first_name, Contact.get("+15125599999").last_name) == ("Kept", "Lee")


def test_an_opt_out_landing_between_the_read_and_the_batch_write_is_kept(client, bucket, monkeypatch):
    """A new contact's write has no condition; an opt-out that slipped in before it is restored from the store."""
    original = import_steps.send_puts

    def opt_out_then_send(requests):
        optouts.opt_out("+15125550102", optouts.Scope(), source="keyword", actor="+15125550102")
        optouts.opt_out("+15125550103", optouts.Scope("cmp_spring"), source="manual", actor="ada")
        return original(requests)

    monkeypatch.setattr(import_steps, "send_puts", opt_out_then_send)
    body = HEADER + "5125550101,Maria,,,\n5125550102,James,,,\n5125550103,Mei,,,\n"
    job = drop(client, bucket, "imports/contacts/race.csv", body.encode())

    assert job["created"] == 3
    assert Contact.get("+15125550102").first_name == "James", "the import's fields landed"
    assert Contact.get("+15125550102").opt_status == "opted_out", "and the opt-out's view survived them"
    assert Contact.get("+15125550103").opted_out_campaigns == {"cmp_spring"}
    assert Contact.get("+15125550101").opt_status == "opted_in"


def test_a_run_that_dies_before_checking_opt_out_marks_checks_them_when_it_resumes(client, bucket, monkeypatch):
    original_send, original_marked = import_steps.send_puts, optouts.marked
    deaths = []

    def opt_out_then_send(requests):
        optouts.opt_out("+15125550102", optouts.Scope(), source="keyword", actor="+15125550102")
        return original_send(requests)

    def die_once(numbers):
        if not deaths:
            deaths.append(numbers)
            raise RuntimeError("the Lambda died")
        return original_marked(numbers)

    monkeypatch.setattr(import_steps, "send_puts", opt_out_then_send)
    monkeypatch.setattr(optouts, "marked", die_once)
    key = "imports/contacts/dies.csv"
    put = bucket.put(key, (HEADER + "5125550101,Maria,,,\n5125550102,James,,,\n").encode())
    job = import_jobs.job_for_object(key, put["ETag"], "0001")
    with pytest.raises(RuntimeError, match="died"):
        imports.run(job.id, imports.Budget.seconds(60))
    assert Contact.get("+15125550102").opt_status == "opted_in", "the batch write replaced the opt-out's view"

    ImportJob(job.id).update(actions=[ImportJob.lease_until.set(datetime.now(UTC) - timedelta(seconds=1))])
    assert imports.run(job.id, imports.Budget.seconds(60)) == "done"
    assert counts(import_jobs.get_job(job.id))["created"] == 2
    assert Contact.get("+15125550102").opt_status == "opted_out", "the resumed step checked the marks it had missed"


def test_marks_are_read_only_for_new_contacts_in_the_shard_an_opt_out_moved(client, bucket, monkeypatch):
    """Every opt-out moves the epoch counter of its number's last digit; a step no opt-out raced reads no marks."""
    original_send, original_marked = import_steps.send_puts, optouts.marked
    checked: list[list[str]] = []
    race = {"on": False}

    def maybe_opt_out_then_send(requests):
        if race["on"]:
            optouts.opt_out("+15125559992", optouts.Scope(), source="keyword", actor="+15125559992")
        return original_send(requests)

    def recording(numbers):
        if numbers:
            checked.append(sorted(numbers))
        return original_marked(numbers)

    monkeypatch.setattr(import_steps, "send_puts", maybe_opt_out_then_send)
    monkeypatch.setattr(optouts, "marked", recording)
    quiet = drop(client, bucket, "imports/contacts/quiet.csv", (HEADER + "5125550201,Ann,,,\n").encode())
    assert quiet["created"] == 1 and checked == [], "no opt-out happened, so no mark was read"

    race["on"] = True
    rows = [f"51255501{n:02d},Name{n},,," for n in range(20)]
    job = drop(client, bucket, "imports/contacts/shards.csv", (HEADER + "\n".join(rows) + "\n").encode())
    assert job["created"] == 20
    assert checked == [["+15125550102", "+15125550112"]], "only the new contacts whose last digit the opt-out moved"
    assert Contact.get("+15125550102").opt_status == "opted_in", "their marks showed no opt-out of their own"


def test_a_run_hands_the_gil_over_promptly_and_puts_the_interval_back(client, bucket, monkeypatch):
    """The writer thread waits on DynamoDB; a short switch interval lets it back in as soon as an answer arrives."""
    before = sys.getswitchinterval()
    during: list[float] = []
    original = import_steps.write_contacts

    def recording(job, step, plan):
        during.append(sys.getswitchinterval())
        return original(job, step, plan)

    monkeypatch.setattr(import_steps, "write_contacts", recording)
    job = drop(client, bucket, "imports/contacts/handover.csv", (HEADER + "5125550301,Ann,,,\n").encode())

    assert job["created"] == 1
    assert during == [pytest.approx(imports.HANDOVER_SECONDS)]
    assert sys.getswitchinterval() == pytest.approx(before)


def test_a_run_that_dies_after_writing_a_step_resumes_to_the_same_counts(client, bucket, monkeypatch):
    monkeypatch.setattr(import_steps, "CONTACT_STEP_NUMBERS", 100)
    contacts.create_contact({"number": "5125500150", "first_name": "Known"})
    rows = [f"51255{n:05d},Name{n},,,City{n % 3}" for n in range(250)]
    rows[120] = "51255 00010,,Again,,"
    rows[200] = "bad,,,,"
    key = "imports/contacts/crash.csv"
    put = bucket.put(key, (HEADER + "\n".join(rows) + "\n").encode())
    job = import_jobs.job_for_object(key, put["ETag"], "0001")
    real_move = import_steps._move_job
    moves = []

    def die_after_writing_the_second_step(job, step, counts):
        moves.append(step.start_offset)
        if len(moves) == 2:
            raise RuntimeError("the Lambda died")
        return real_move(job, step, counts)

    monkeypatch.setattr(import_steps, "_move_job", die_after_writing_the_second_step)
    with pytest.raises(RuntimeError, match="died"):
        imports.run(job.id, imports.Budget.seconds(60))
    ImportJob(job.id).update(actions=[ImportJob.lease_until.set(datetime.now(UTC) - timedelta(seconds=1))])
    assert imports.run(job.id, imports.Budget.seconds(60)) == "done"

    done = import_jobs.get_job(job.id)
    assert done["runs"] == 2
    assert counts(done) == {"rows": 250, "created": 247, "updated": 1, "unchanged": 0, "rejected": 1, "duplicates": 1}
    assert Contact.get("+15125500010").last_name == "Again"
    assert Contact.get("+15125500150").first_name == "Name150"


def test_the_next_steps_new_contacts_are_queued_before_the_step_before_moves_the_job_on(client, bucket, monkeypatch):
    """The writer process goes on to the next step's items while the parent finishes the step before off."""
    monkeypatch.setattr(import_steps, "CONTACT_STEP_NUMBERS", 100)
    original_send, original_move = import_steps.send_puts, import_steps._move_job
    sent: list[int] = []
    second_sent = threading.Event()
    queued_before_first_move: list[bool] = []

    def sending(requests):
        sent.append(len(requests))
        if len(sent) == 2:
            second_sent.set()
        return original_send(requests)

    monkeypatch.setattr(import_steps, "send_puts", sending)
    monkeypatch.setattr(
        import_steps, "_move_job", first_call_waits(original_move, second_sent, queued_before_first_move)
    )
    monkeypatch.setattr(imports.Budget, "from_lambda", classmethod(lambda cls, context: cls.seconds(60)))
    rows = [f"51255{n:05d},Name{n},,," for n in range(200)]
    job = drop(client, bucket, "imports/contacts/queued.csv", (HEADER + "\n".join(rows) + "\n").encode())

    assert queued_before_first_move == [True], "the second step's items waited for the first step to move the job"
    assert sent == [100, 100]
    assert counts(job) == {"rows": 200, "created": 200, "updated": 0, "unchanged": 0, "rejected": 0, "duplicates": 0}
    assert len(list(Contact.scan())) == 200


def test_a_steps_first_slice_is_queued_before_the_rest_of_the_step_is_read(client, bucket, monkeypatch):
    """The writer process starts on a step's first contacts while the planner reads the rest."""
    monkeypatch.setattr(import_steps, "CONTACT_STEP_NUMBERS", 100)
    monkeypatch.setattr(import_steps, "QUEUED_NUMBERS", 40)
    original_read, original_send = import_steps._read_contacts, import_steps.send_puts
    events: list[str] = []

    def reading(numbers):
        events.append(f"read {len(numbers)}")
        return original_read(numbers)

    def sending(requests):
        events.append(f"queue {len(requests)}")
        return original_send(requests)

    monkeypatch.setattr(import_steps, "_read_contacts", reading)
    monkeypatch.setattr(import_steps, "send_puts", sending)
    rows = [f"51255{n:05d},Name{n},,," for n in range(99)] + ["not a number,,,,"]
    job = drop(client, bucket, "imports/contacts/slices.csv", (HEADER + "\n".join(rows) + "\n").encode())

    assert events == ["read 40", "queue 41", "read 40", "queue 40", "read 19", "queue 19"]
    assert counts(job) == {"rows": 100, "created": 99, "updated": 0, "unchanged": 0, "rejected": 1, "duplicates": 0}
    assert len(list(Contact.scan())) == 99


def test_a_step_sharing_numbers_with_the_one_being_written_is_planned_meanwhile(client, bucket, monkeypatch):
    """The shared numbers are held back and planned by the writer once the step before has landed."""
    monkeypatch.setattr(import_steps, "CONTACT_STEP_NUMBERS", 100)
    rows = [f"51255{n:05d},Name{n},,,City{n % 3}" for n in range(200)]
    rows[150] = "(512) 550-0050,,Again,,"
    original_plan, original_write = import_steps.plan_contacts, import_steps.write_contacts
    second_planned = threading.Event()
    held: list[set[str]] = []
    planned_while_first_was_written: list[bool] = []

    def planning(job, step, numbers):
        held.append(set(numbers))
        plan = original_plan(job, step, numbers)
        if len(held) == 2:
            second_planned.set()
        return plan

    monkeypatch.setattr(import_steps, "plan_contacts", planning)
    monkeypatch.setattr(
        import_steps,
        "write_contacts",
        first_call_waits(original_write, second_planned, planned_while_first_was_written),
    )
    monkeypatch.setattr(imports.Budget, "from_lambda", classmethod(lambda cls, context: cls.seconds(60)))
    job = drop(client, bucket, "imports/contacts/adjacent.csv", (HEADER + "\n".join(rows) + "\n").encode())

    assert job["runs"] == 1
    assert planned_while_first_was_written == [True], "the second step waited for the first to be written"
    assert held == [set(), {"+15125500050"}]
    assert counts(job) == {"rows": 200, "created": 199, "updated": 0, "unchanged": 0, "rejected": 0, "duplicates": 1}
    again = Contact.get("+15125500050")
    assert (again.first_name, again.last_name, again.city) == ("Name50", "Again", "City2")


def test_an_opt_out_list_repeating_a_number_in_the_next_step_counts_it_once(client, bucket):
    numbers = [f"51255{n:05d}" for n in range(60)]
    numbers[30] = numbers[15]
    body = "phone\n" + "\n".join(numbers) + "\n"
    job = drop(client, bucket, "imports/optouts/repeats.csv", body.encode())

    assert counts(job) == {"rows": 60, "created": 59, "updated": 0, "unchanged": 0, "rejected": 0, "duplicates": 1}
    reason = optout_import_steps.optout_reason(ImportJob.get(job["id"]))
    assert OptOut.get("+15125500015", optouts.Scope().key).reason == reason


def test_mapping_sidecar_renames_ignores_and_groups(client, bucket):
    custom_fields.create_field("tier", None)
    mapping = {"columns": {"Handy": "number", "Kundenstufe": "tier", "Notes": "ignore"}, "group": "Spring promo"}
    bucket.put("imports/contacts/de.mapping.json", json.dumps(mapping).encode())
    body = b"Handy,Vorname,Kundenstufe,Notes\n5125550101,Maria,gold,call her\n"
    job = drop(client, bucket, "imports/contacts/de.csv", body)

    assert job["created"] == 1
    maria = Contact.get("+15125550101")
    assert (maria.custom.as_dict(), maria.groups) == ({"tier": "gold"}, {"Spring promo"})
    assert [(i["header"], i["problem"]) for i in job["column_issues"]] == [("Vorname", "unknown"), ("Notes", "ignored")]
    spring = groups.resolve_static_group("spring PROMO")
    assert [number for page in groups.member_numbers(spring) for number in page] == ["+15125550101"]


def test_a_group_column_puts_rows_in_static_groups_and_a_dynamic_one_fails_the_job(client, bucket):
    body = "number,first_name,group\n5125550101,Maria,VIP;Austin\n5125550102,James,vip\n"
    job = drop(client, bucket, "imports/contacts/groups.csv", body.encode())
    assert job["status"] == "done"
    members = {
        name: sorted(n for page in groups.member_numbers(groups.resolve_static_group(name)) for n in page)
        for name in ("VIP", "Austin")
    }
    assert members == {"VIP": ["+15125550101", "+15125550102"], "Austin": ["+15125550101"]}

    groups.create_group({"name": "Locals", "kind": "dynamic", "query": 'city = "Austin"'})
    failed = drop(client, bucket, "imports/contacts/dynamic.csv", b"number,group\n5125550103,Locals\n")
    assert failed["status"] == "failed" and "Locals" in failed["error"]


def test_a_file_without_a_number_column_fails_with_the_reason(client, bucket):
    job = drop(client, bucket, "imports/contacts/bad.csv", b"name,city\nMaria,Austin\n")
    assert job["status"] == "failed"
    assert "number" in job["error"]
    assert json.loads(bucket.read(job["summary"]))["status"] == "failed"


def test_browser_upload_through_a_presigned_url(client, bucket, as_supervisor, as_agent):
    assert as_agent.post("/imports", {"filename": "list.csv"}).status_code == 403
    assert as_supervisor.post("/imports", {"filename": "../x.csv"}).status_code == 400
    created = as_supervisor.post("/imports", {"filename": "list.csv", "mapping": {"group": "Web"}})
    assert created.status_code == 201
    upload = created.json_body
    assert upload["job"]["status"] == "awaiting_upload"

    request = urllib.request.Request(
        upload["upload_url"], data=(HEADER + "5125550101,Maria,,,\n").encode(), headers=upload["headers"], method="PUT"
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    head = bucket.s3.head_object(Bucket=bucket.name, Key="imports/contacts/list.csv")
    deliver_all(client, bucket, s3_event("imports/contacts/list.csv", head["ETag"]))

    job = as_supervisor.get(f"/imports/{upload['job']['id']}").json_body
    assert (job["status"], job["created"], job["percent_done"]) == ("done", 1, 100)
    assert Contact.get("+15125550101").groups == {"Web"}
    assert as_supervisor.get("/imports/imp_missing").status_code == 404


@pytest.mark.parametrize("key", ["imports/contacts/notes.txt", "imports/contacts/x.mapping.json", "exports/a.csv"])
def test_objects_that_are_not_import_files_are_ignored(client, bucket, key):
    bucket.put(key, b"number\n5125550101\n")
    assert deliver(client, s3_event(key)) == {"batchItemFailures": []}
    assert list(ImportJob.scan()) == []


def test_a_file_replaced_between_runs_fails_instead_of_mixing_two_files(client, bucket, monkeypatch):
    monkeypatch.setattr(import_steps, "CONTACT_STEP_NUMBERS", 100)
    monkeypatch.setattr(imports.Budget, "from_lambda", classmethod(lambda cls, context: cls.seconds(0)))
    rows = "".join(f"51255{n:05d},Name{n},,,\n" for n in range(300))
    key = "imports/contacts/replaced.csv"
    put = bucket.put(key, (HEADER + rows).encode())
    deliver(client, s3_event(key, put["ETag"]))
    bucket.put(key, (HEADER + "5125559999,Other,,,\n").encode())
    while pending := bucket.drain():
        deliver(client, *pending)
    (job,) = [j for j in ImportJob.scan() if j.key == key]
    assert (job.status, job.rows) == ("failed", 100), "the first run's step stands; nothing of the new file"
    assert "replaced" in job.error


def test_optout_lists_by_drop_and_by_upload_with_a_campaign_scope(client, bucket, business, as_supervisor):
    spring = campaigns.create({"name": "Spring", "business_number": business["number"], "welcome_text": "hi"})["id"]
    optouts.opt_out("+15125550101", optouts.Scope(), source="keyword", actor="+15125550101")
    body = b"phone\n(512) 555-0101\n512-555-0102\n5125550102\nnot a number\n"
    job = drop(client, bucket, "imports/optouts/stop-list.csv", body)
    assert counts(job) == {"rows": 4, "created": 1, "updated": 0, "unchanged": 1, "rejected": 1, "duplicates": 1}
    history = optouts.history("+15125550102")
    assert [(h["action"], h["source"]) for h in history] == [("opt_out", "import")]

    upload = as_supervisor.post(
        "/imports", {"kind": "optouts", "filename": "spring.CSV", "campaign_id": spring}
    ).json_body
    assert upload["job"]["campaign_id"] == spring
    assert as_supervisor.post("/imports", {"filename": "a.csv", "campaign_id": spring}).status_code == 400
    request = urllib.request.Request(
        upload["upload_url"], data=b"phone\n5125550103\n", headers=upload["headers"], method="PUT"
    )
    urllib.request.urlopen(request).close()
    deliver_all(client, bucket, s3_event(f"imports/optouts/{spring}/spring.CSV"))
    done = as_supervisor.get(f"/imports/{upload['job']['id']}").json_body
    assert (done["status"], done["created"]) == ("done", 1)
    assert Contact.get("+15125550103").opted_out_campaigns == {spring}
    assert Contact.get("+15125550103").opt_status == "opted_in"


def test_an_optout_list_naming_no_campaign_fails_whole_and_one_archived_imports(
    client, bucket, business, as_supervisor
):
    body = b"phone\n5125550101\n5125550102\n"
    job = drop(client, bucket, "imports/optouts/cmp_missing/stop.csv", body)
    assert (job["status"], job["rows"], job["created"]) == ("failed", 0, 0)
    assert job["error"].startswith("no campaign cmp_missing: an opt-out list under imports/optouts/<campaign id>/")
    assert json.loads(bucket.read(job["summary"]))["error"] == job["error"]
    assert job["finished_at"] is not None
    assert (list(OptOut.scan()), list(Contact.scan())) == ([], [])

    refused = as_supervisor.post("/imports", {"kind": "optouts", "filename": "stop.csv", "campaign_id": "cmp_missing"})
    assert (refused.status_code, refused.json_body) == (
        404,
        {"error": {"code": "not_found", "message": "no campaign cmp_missing", "field": "campaign_id"}},
    )
    assert [j.key for j in ImportJob.scan()] == ["imports/optouts/cmp_missing/stop.csv"], "no job for the refused one"

    spring = campaigns.create({"name": "Spring", "business_number": business["number"], "welcome_text": "hi"})["id"]
    campaigns.update(spring, {"status": "archived"})
    archived = drop(client, bucket, f"imports/optouts/{spring}/stop.csv", body)
    assert (archived["status"], archived["created"]) == ("done", 2)
    assert Contact.get("+15125550101").opted_out_campaigns == {spring}


def test_a_mapping_naming_no_field_is_refused_before_any_file(client, bucket, as_supervisor):
    refused = as_supervisor.post("/imports", {"filename": "a.csv", "mapping": {"columns": {"Handy": "nummer"}}})
    assert (refused.status_code, refused.json_body["error"]["field"]) == (400, "mapping")
    assert "nummer" in refused.json_body["error"]["message"]
    optout = as_supervisor.post(
        "/imports", {"kind": "optouts", "filename": "a.csv", "mapping": {"columns": {"Name": "first_name"}}}
    )
    assert optout.status_code == 400

    bucket.put("imports/contacts/bad.mapping.json", json.dumps({"columns": {"Handy": "nummer"}}).encode())
    job = drop(client, bucket, "imports/contacts/bad.csv", b"Handy\n5125550101\n")
    assert (job["status"], job["rows"]) == ("failed", 0)
    assert job["error"].startswith("imports/contacts/bad.mapping.json: mapping.columns")
