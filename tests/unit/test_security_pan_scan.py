from __future__ import annotations

import base64
import hashlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.log import JsonFormatter
from fraudlens.security import Tokenizer, luhn_valid
from fraudlens.security.pan_scan import (
    find_pans,
    redact,
    scan_bytes,
    scan_file,
    scan_kafka_messages,
    scan_paths,
    scan_text,
    scrub,
)
from fraudlens.security.pan_stores import ray_application_logs

VISA = "4111111111111111"
AMEX = "378282246310005"


def with_check_digit(body: str) -> str:
    """Append the Luhn check digit to ``body``."""
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError


VISA13 = with_check_digit("422222222222")
LONG19 = with_check_digit("622126000000000000")
NOT_LUHN = "4111111111111112"


@pytest.mark.parametrize(
    "text",
    [
        f"card {VISA} declined",
        "card 4111 1111 1111 1111 declined",
        "card 4111-1111-1111-1111 declined",
        "amex 3782 822463 10005",
        f"old visa {VISA13}",
        f"nineteen {LONG19}",
        f'{{"pan": {VISA}}}',
        f'{{"pan":"{VISA}"}}',
        f"PAN{VISA}",
        "4111 1111 1111 1111 2027",  # an expiry year glued on
        "exp 12 4111 1111 1111 1111",
        f"amount 12.50,{VISA},EUR",
        f"-{VISA}",
    ],
)
def test_finds_pans(text: str) -> None:
    hits = find_pans(text)
    assert len(hits) == 1, text
    assert redact(text).count("[PAN REDACTED]") == 1


@pytest.mark.parametrize(
    "text",
    [
        f"order {NOT_LUHN}",  # fails Luhn
        "id 79927398713",  # Luhn-valid but 11 digits
        with_check_digit("41111111111"),  # 12 digits: below 13
        with_check_digit("4111111111111111111"),  # 20 digits
        with_check_digit("011111111111111"),  # starts with 0: no card does
        f"score 0.{VISA}",  # fraction of a decimal number
        f"hash {VISA}abcdef",  # glued to hex: part of a digest
        f"tok_k1_{VISA}deadbeefdeadbeef",
        "2026-06-01T12:34:56.123456+00:00",
        "tel +44 20 7946 0958",
        "[PAN REDACTED] ************1111",
    ],
)
def test_ignores_non_pans(text: str) -> None:
    assert find_pans(text) == [], text


def test_networks_only_narrows_to_card_prefixes() -> None:
    epoch_ms = with_check_digit("178000000000")  # 13 digits, like a 2026 timestamp
    assert find_pans(epoch_ms) and not find_pans(epoch_ms, networks_only=True)
    assert find_pans(VISA, networks_only=True)


def test_no_false_positives_on_tokens_digests_and_uuids() -> None:
    tok = Tokenizer("k1", {"k1": b"k" * 32})
    values = [tok.tokenize(with_check_digit(f"4{i:014d}")) for i in range(3000)]
    values += [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)]
    values += [str(uuid.UUID(int=i * 7919 + 10**30)) for i in range(3000)]
    text = "\n".join(values)
    assert scan_text(text) == []


def test_findings_mask_the_value() -> None:
    [finding] = scan_text(f"ok\nthe card {VISA} here", source="note.txt")
    assert finding.location == "line 2, col 10"
    assert finding.masked == "************1111"
    assert VISA not in repr(finding)


def test_scrub_json_like_values() -> None:
    clean = scrub({"a": VISA, "b": [int(VISA), 3, True], "c": {VISA: "x"}, "d": 1.5})
    assert VISA not in json.dumps(clean)
    assert clean["b"][1:] == [3, True] and clean["d"] == 1.5


def test_planted_pan_in_a_log_line_is_found(
    tmp_path: Path, pan_fixture_path: Callable[[str], Path]
) -> None:
    log_file = pan_fixture_path("app.log")
    handler = logging.FileHandler(log_file)
    logger = logging.getLogger("pan_fixture.leaky")  # see tests/conftest.py
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("txn t-1 scored 0.9731; card %s", VISA)  # the bug we must catch
        logger.warning("txn t-2 scored 0.1204; order %s", NOT_LUHN)
    finally:
        logger.removeHandler(handler)
        handler.close()
    [finding] = scan_file(log_file)
    assert finding.location.startswith("line 1")
    # The same record through FraudLens' JSON formatter is masked: nothing to find.
    masked = tmp_path / "masked.log"
    record = logging.makeLogRecord({"msg": "card %s", "args": (VISA,), "levelname": "INFO"})
    masked.write_text(JsonFormatter().format(record) + "\n")
    assert scan_file(masked) == []


def test_planted_pan_in_parquet_is_found(pan_fixture_path: Callable[[str], Path]) -> None:
    path = pan_fixture_path("transactions.parquet")
    n = 1000
    table = pa.table(
        {
            "transaction_id": [f"t-{i}" for i in range(n)],
            "note": ["ok"] * 500 + [f"card {VISA}"] + ["ok"] * 499,
            "acct": pa.array([12345] * 700 + [int(AMEX)] + [12345] * 299, pa.int64()),
            "as_float": [1.0] * 999 + [float(VISA)],
            "event_time": pa.array(
                [datetime(2026, 6, 1, tzinfo=UTC)] * n, pa.timestamp("us", "UTC")
            ),
            "order_no": [int(NOT_LUHN)] * n,
        }
    )
    pq.write_table(table, path)
    locations = sorted(f.location for f in scan_file(path))
    assert locations == ["column acct, row 700", "column as_float, row 999", "column note, row 500"]


def test_parquet_without_pans_is_clean(tmp_path: Path) -> None:
    tok = Tokenizer("k1", {"k1": b"k" * 32})
    path = tmp_path / "clean.parquet"
    pq.write_table(
        pa.table(
            {
                "card_token": [tok.tokenize(VISA), tok.tokenize(AMEX)],
                "order_no": [int(NOT_LUHN), 7],
                "score": [0.4111111111111111, 0.5],
            }
        ),
        path,
    )
    assert scan_file(path) == []


def test_planted_pan_in_sqlite_is_found_including_deleted_rows(
    pan_fixture_path: Callable[[str], Path],
) -> None:
    path = pan_fixture_path("online.db")
    con = sqlite3.connect(path)
    con.execute("PRAGMA secure_delete = OFF")  # Debian builds default to ON
    con.execute("CREATE TABLE features (entity_key BLOB, feature_name TEXT, value BLOB, n INTEGER)")
    con.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
    con.execute(
        "INSERT INTO features VALUES (?, 'amount_1h', ?, 1)", (b"\x01card", b"\x12\x0512.50")
    )
    con.execute(
        "INSERT INTO features VALUES (?, 'x', ?, ?)", (b"k", f"\x08{VISA}".encode(), int(AMEX))
    )
    con.execute("INSERT INTO kv VALUES ('a', ?)", (f"pan {VISA13}",))
    con.execute("INSERT INTO kv VALUES ('gone', ?)", (f"pan {LONG19}",))
    con.commit()
    con.execute("DELETE FROM kv WHERE k = 'gone'")
    con.commit()
    con.close()
    findings = scan_file(path)
    where = sorted(f.location.split(" (")[0] for f in findings)
    assert "table features, rowid 2, column value" in where
    assert "table features, rowid 2, column n" in where
    assert "table kv, row 0, column v" in where
    assert any("in no live row" in f.location for f in findings)  # the deleted row's bytes
    con = sqlite3.connect(path)
    con.execute("VACUUM")
    con.close()
    assert not any("in no live row" in f.location for f in scan_file(path))


def test_html_split_by_tags_and_entities(pan_fixture_path: Callable[[str], Path]) -> None:
    page = pan_fixture_path("report.html")
    page.write_text(
        "<html><body><p>score 0.93</p>"
        "<td>4111</td><td>1111 1111 1111 1111</td>"  # separate cells: no PAN...
        "<td>4111<b>1111</b> 1111 1111</td>"  # ...split by an inline tag: a PAN
        "<p>3782&#32;822463&#32;10005</p></body></html>"
    )
    assert len(scan_file(page)) == 2
    page.write_text("<p>order 4111111111111112, id 2026-06-01</p>")
    assert scan_file(page) == []


def test_kafka_dump_and_messages(pan_fixture_path: Callable[[str], Path]) -> None:
    ts = int(with_check_digit("178000000000"))  # Luhn-valid epoch ms: metadata, not content
    dump = pan_fixture_path("transactions.jsonl")
    lines = [
        {
            "topic": "transactions",
            "partition": 0,
            "offset": 0,
            "ts": ts,
            "key": "t-1",
            "payload": '{"amount": 3.2}',
        },
        {
            "topic": "transactions",
            "partition": 1,
            "offset": 7,
            "ts": ts,
            "key": None,
            "payload": f'{{"pan": "{VISA}"}}',
        },
        {
            "topic": "labels",
            "partition": 0,
            "offset": 3,
            "value_b64": base64.b64encode(f"x{AMEX}".encode()).decode(),
        },
    ]
    dump.write_text("".join(json.dumps(line) + "\n" for line in lines))
    locations = sorted(f.location for f in scan_file(dump))
    assert locations == [
        "topic labels partition 0 offset 3 value_b64",
        "topic transactions partition 1 offset 7 payload",
    ]

    @dataclass
    class Message:
        _value: bytes | None
        _offset: int

        def topic(self) -> str:
            return "decisions"

        def partition(self) -> int:
            return 2

        def offset(self) -> int:
            return self._offset

        def key(self) -> bytes:
            return b"t-9"

        def value(self) -> bytes | None:
            return self._value

    found = scan_kafka_messages(
        [Message(b'{"ok": 1}', 1), Message(VISA.encode(), 2), Message(None, 3)]
    )
    assert [f.location for f in found] == ["topic decisions partition 2 offset 2 value"]


def test_bytes_and_folder_scan(pan_fixture_path: Callable[[str], Path]) -> None:
    blob = b"\x00\xff" * 10 + VISA.encode() + b"\x00"
    [finding] = scan_bytes(blob)
    assert finding.location == "offset 20"
    planted = pan_fixture_path("a.bin")
    planted.write_bytes(blob)
    (planted.parent / "b.txt").write_text("nothing here\n")
    assert [f.source for f in scan_paths([planted.parent])] == [str(planted)]


def test_ray_application_logs_are_workers_serve_and_train(tmp_path: Path) -> None:
    session = tmp_path / "session_2026-06-01_12-00-00_000000_1"
    ours = [
        "logs/worker-0a1b-01000000-101.out",
        "logs/worker-0a1b-01000000-101.err",
        "logs/old/worker-2c3d-01000000-102.err",  # an exited worker's log
        "logs/serve/replica_scoring_Scorer_abc.log",
        "logs/serve/controller_103.log",
        "logs/train/ray-train-app.log",
    ]
    rays = [
        "logs/raylet.out",
        "logs/gcs_server.out",
        "logs/dashboard.log",
        "logs/python-core-worker-0a1b_101.log",
        "logs/events/event_RAYLET.log",
        "session.json",
    ]
    for name in ours + rays:
        (session / name).parent.mkdir(parents=True, exist_ok=True)
        (session / name).write_text("x\n")
    (session / "logs/worker-link.out").symlink_to(session / "logs/raylet.out")
    assert ray_application_logs(session) == sorted(session / name for name in ours)
    assert ray_application_logs(tmp_path / "gone") == []


# -- the session guard of tests/conftest.py, run on tiny test files in a child pytest --------

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
# The child's test files build their card number at run time: no PAN in their source.
LEAKS = {
    "logged": 'logging.getLogger("fraudlens.scoring").warning("card %s", PAN)',
    "written": '(tmp_path / "out.json").write_text(\'{"pan": "\' + PAN + \'"}\')',
    "printed": "print('scored', PAN)",
    "beside_a_fixture": 'pan_fixture_path("in.csv").write_text(PAN)\n'
    '    (pan_fixture_path("x").parent / "out.csv").write_text(PAN)',
    # a truncated Parquet file (a killed writer's .tmp): its raw bytes are scanned
    "partial_parquet": '(tmp_path / "x.parquet.tmp").write_bytes(b"PAR1 " + PAN.encode())',
    # a later test overwrites a sealed input: the new content is output, scanned
    "fixture_changed_later": 'SEALED.append(pan_fixture_path("in.csv"))\n'
    "    SEALED[-1].write_text(PAN)\n\n\n"
    'def test_later():\n    SEALED[0].write_text("changed " + PAN)',
    # a Ray worker's stdout, outside basetemp (RAY_TMPDIR is the child's ray folder)
    "ray_worker_log": 'ray_log("session_1", "worker-1-01000000-7.out").write_text("scored " + PAN)',
}
CLEAN = {
    "fixture_input": 'pan_fixture_path("in.csv").write_text("card\\n" + PAN)',
    "fixture_logger": 'log = logging.getLogger("pan_fixture.x")\n'
    "    log.propagate = False\n    log.addHandler(logging.NullHandler())\n"
    '    log.warning("card %s", PAN)',
    "partial_parquet": '(tmp_path / "x.parquet.tmp").write_bytes(b"PAR1")',
    "tokenized": 'tmp_path.joinpath("t.txt").write_text("tok_k1_" + "a" * 32 + " 4111 0.4111111111111111")',
}


def _child_session(tmp_path: Path, body: str) -> tuple[int, str]:
    import os
    import shutil
    import subprocess
    import sys

    project = tmp_path / "child"
    project.mkdir()
    shutil.copy(CONFTEST, project / "conftest.py")
    (project / "test_leak.py").write_text(
        "import logging\nimport os\nimport pathlib\n\n"
        'PAN = "4111" + "1" * 12\nSEALED = []\n\n\n'
        "def ray_log(session, name):\n"
        '    logs = pathlib.Path(os.environ["RAY_TMPDIR"], "ray", session, "logs")\n'
        "    logs.mkdir(parents=True, exist_ok=True)\n"
        "    return logs / name\n\n\n"
        f"def test_leak(tmp_path, pan_fixture_path):\n    {body}\n"
    )
    basetemp = tmp_path / "child-tmp"
    ray_tmp = tmp_path / "child-ray"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(basetemp),
            "--rootdir",
            str(project),
            "-c",
            os.devnull,
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RAY_TMPDIR": str(ray_tmp)},
    )
    shutil.rmtree(project)  # the child's planted PANs are not this session's output
    shutil.rmtree(basetemp, ignore_errors=True)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_the_session_guard_fails_on_a_leak(tmp_path: Path, leak: str) -> None:
    code, output = _child_session(tmp_path, LEAKS[leak])
    assert "failed" not in output and " passed" in output, output  # the tests pass...
    assert code == 1 and "PAN scan FAILED" in output, output  # ...the session does not
    assert "************1111" in output and "4111111111111111" not in output


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_the_session_guard_passes_clean_and_sealed_inputs(tmp_path: Path, case: str) -> None:
    code, output = _child_session(tmp_path, CLEAN[case])
    assert code == 0 and "PAN scan: clean" in output, output


def test_the_session_guard_reads_only_application_logs_of_new_ray_sessions(
    tmp_path: Path,
) -> None:
    body = (
        'ray_log("session_1", "worker-1-01000000-7.err").write_text("ok")\n'
        '    ray_log("session_1", "raylet.out").write_text(PAN)  # Ray\'s own: not read\n'
        '    ray_log("session_0", "worker-2-01000000-8.out").write_text(PAN)\n'
        '    os.utime(ray_log("session_0", "x").parents[1], (0, 0))  # before the session'
    )
    code, output = _child_session(tmp_path, body)
    assert code == 0 and "PAN scan: clean" in output and " 1 Ray log files" in output, output


def test_digits_inside_a_uuid_are_not_a_card() -> None:
    lucky = "41111111-1111-1111-abcd-0123456789ab"  # leading 16 digits pass Luhn
    assert luhn_valid("4111111111111111")
    assert find_pans(f"decision {lucky} scored") == []
    assert find_pans(f"{lucky} 4111-1111-1111-1111")[0].masked.endswith("1111")
    # A digit before the UUID (a Ray log: replica name, then request id) does not join it.
    assert find_pans(f"fraudlens_scoring fchnvly5 {lucky} -- POST /v1/score") == []
    assert find_pans(f"card 4111111111111111 {lucky}")[0].start == 5
