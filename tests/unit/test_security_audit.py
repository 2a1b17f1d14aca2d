from __future__ import annotations

import hashlib
import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from fraudlens.errors import AuditError, ConfigError
from fraudlens.security.audit import Action, AuditLog, audit_log_from_settings, verify
from fraudlens.settings import Settings

KEY = b"a" * 32


def _log(tmp_path: Path, n: int = 5, key: bytes | None = None) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", key, fsync=False)
    for i in range(n):
        log.append(f"api_key:k{i}", Action.LABEL_SUBMITTED, target=f"t-{i}", details={"i": i})
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(lines))


def test_chain_verifies_and_records_who_what_when(tmp_path: Path) -> None:
    log = _log(tmp_path)
    result = verify(log.path)
    assert result.ok and result.entries == 5
    first = json.loads(_lines(log)[0])
    assert first["actor"] == "api_key:k0" and first["action"] == "label.submitted"
    assert first["seq"] == 0 and first["prev"] == "0" * 64 and first["time"].endswith("+00:00")
    assert result.head == json.loads(_lines(log)[-1])["hash"]
    assert log.path.stat().st_mode & 0o077 == 0


def test_empty_and_deleted_logs(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    assert verify(path).ok and verify(path).entries == 0  # nothing recorded yet
    log = _log(tmp_path, 1)
    log.path.unlink()
    assert not verify(path).ok  # the head file remembers there was a log


def test_edited_line_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[2] = lines[2].replace('"i":2', '"i":9')
    _write(log, lines)
    result = verify(log.path)
    assert not result.ok
    assert result.problems == [
        "line 3: hash mismatch: the line was edited (or the wrong key was given)"
    ]


def test_removed_line_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    result = verify(log.path)
    assert len(result.problems) == 1 and result.problems[0].startswith("line 2: sequence 2")


def test_reordered_lines_are_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _write(log, lines)
    assert not verify(log.path).ok


def test_inserted_forged_line_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    forged = json.loads(lines[2])
    forged["actor"] = "api_key:intruder"
    lines.insert(3, json.dumps(forged) + "\n")
    _write(log, lines)
    assert not verify(log.path).ok


def test_truncated_tail_is_caught_by_head_file_and_anchor(tmp_path: Path) -> None:
    log = _log(tmp_path)
    anchor = verify(log.path).head  # e.g. shipped to the SIEM
    _write(log, _lines(log)[:-1])
    result = verify(log.path)
    assert any("head" in p for p in result.problems)
    log.head_path.unlink()  # a careful attacker removes the sidecar too
    assert verify(log.path).ok  # a shorter chain is still a valid chain...
    assert not verify(log.path, expected_head=anchor).ok  # ...but not the anchored one


def test_hmac_chain_cannot_be_recomputed_without_the_key(tmp_path: Path) -> None:
    log = _log(tmp_path, key=KEY)
    assert verify(log.path, KEY).ok
    assert not verify(log.path, b"b" * 32).ok
    # An attacker edits a line and recomputes the whole chain with plain SHA-256.
    entries = [json.loads(line) for line in _lines(log)]
    entries[1]["details"] = {"i": 42}
    prev = "0" * 64
    for entry in entries:
        entry["prev"] = prev
        body = {k: v for k, v in entry.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        entry["hash"] = prev = hashlib.sha256(canonical).hexdigest()
    _write(log, [json.dumps(e) + "\n" for e in entries])
    log.head_path.unlink()
    assert verify(log.path).ok  # the forgery passes as a plain SHA-256 chain...
    assert not verify(log.path, KEY).ok  # ...but not the keyed chain


def test_incomplete_tail_blocks_appends_and_shows_in_verify(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    with open(log.path, "a") as handle:
        handle.write('{"seq": 2, "ti')
    assert "incomplete" in verify(log.path).problems[0]
    with pytest.raises(AuditError, match="incomplete"):
        log.append("cli", Action.RULE_CHANGED)


def test_card_numbers_are_masked_and_bad_details_refused(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", fsync=False)
    entry = log.append(
        "cli",
        Action.LIST_CHANGED,
        details={"note": "card 4111 1111 1111 1111", "n": 4111111111111111},
    )
    text = log.path.read_text()
    assert "4111" not in text and entry.details["n"] == "[PAN REDACTED]"
    with pytest.raises(AuditError, match="JSON"):
        log.append("cli", Action.LIST_CHANGED, details={"x": object()})
    with pytest.raises(AuditError):
        log.append("", Action.LIST_CHANGED)
    assert verify(log.path).ok


def _append_many(path: str, worker: int, n: int) -> None:
    log = AuditLog(Path(path), KEY, fsync=False)
    for i in range(n):
        log.append(f"worker:{worker}", Action.LABEL_SUBMITTED, details={"i": i})


def test_concurrent_appends_from_processes_and_threads(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_append_many, str(path), w, 30) for w in range(3)]
        threads = [
            threading.Thread(target=_append_many, args=(str(path), 10 + w, 30)) for w in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for f in futures:
            f.result()
    result = verify(path, KEY)
    assert result.ok, result.problems
    assert result.entries == 150


def test_settings_default_path_and_production_key(tmp_path: Path) -> None:
    log = audit_log_from_settings(Settings(data_dir=tmp_path))
    assert log.path == tmp_path / "audit" / "audit.jsonl" and log.key is None
    prod = {"mode": "production", "kafka": {"bootstrap_servers": "b:9093"}, "data_dir": tmp_path}
    with pytest.raises(ConfigError, match="audit_hmac_key"):
        audit_log_from_settings(Settings(**prod))
    with pytest.raises(ConfigError, match="32 bytes"):
        audit_log_from_settings(Settings(**prod, security={"audit_hmac_key": "short"}))
    assert audit_log_from_settings(Settings(**prod, security={"audit_hmac_key": "k" * 32})).key
