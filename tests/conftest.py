"""Session-wide PAN guard (issue #7): nothing the tests produce may hold a card number.

Scanned with ``fraudlens.security.pan_scan`` (``networks_only``: leading 2-6,
as every test card is, so epoch-millisecond and nanosecond integers in MLflow,
Spark and Feast files are not mistaken for cards):

- every log record created during the session (its message and traceback), at
  creation, so no handler swap (``configure_logging``) can hide one; the root
  logger is raised to INFO for the session if it was quieter;
- every test's captured output and failure report;
- at session end, every file under pytest's basetemp and under any
  ``FRAUDLENS_DATA_DIR`` a test pointed at outside it, and the application
  logs (``ray_application_logs``) of the Ray sessions started during the
  session (Ray's temp folder: ``RAY_TMPDIR``, else the system's; a log that
  vanishes or cannot be read is skipped: a live Ray moves and rotates them);
- what fixtures hand in with ``pan_guard.add`` (the integration conftest
  scans the embedded broker's topics before stopping it: Tansu keeps them in
  memory).

Any finding fails the session (exit status 1) and is listed, masked.

Tests that need a PAN on disk as *input* write it to ``pan_fixture_path(name)``:
a file in basetemp/pan-fixtures/, sealed with its hash when the test ends. Only
that file with that content is skipped; files beside it, and any change made
to it after the test, are scanned. Tests that log a PAN on purpose use a logger
under ``PAN_FIXTURE_LOGGER`` (product code never does) that does not propagate
(or pytest's log capture would show the PAN).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudlens.security.pan_scan import Finding, find_pans, scan_bytes, scan_file
from fraudlens.security.pan_stores import ray_application_logs

PAN_FIXTURE_LOGGER = "pan_fixture"
FIXTURE_DIR = "pan-fixtures"
_SCAN = {"networks_only": True}


class PanGuard:
    """Collects PAN findings over the session; see the module docstring."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.sealed: dict[Path, str] = {}
        self.data_dirs: set[Path] = set()
        self.scanned = {"log records": 0, "test reports": 0, "files": 0, "Ray log files": 0}
        self.started = time.time()
        self._factory: Callable[..., logging.LogRecord] | None = None
        self._root_level: int | None = None

    def add(self, findings: Iterable[Finding], kind: str | None = None, count: int = 0) -> None:
        """Record findings (and, for the summary, how many items of ``kind`` were read)."""
        self.findings.extend(findings)
        if kind:
            self.scanned[kind] = self.scanned.get(kind, 0) + count

    def scan_text(self, text: str, source: str) -> None:
        """Scan one piece of text (a log message, a report section)."""
        for hit in find_pans(text, **_SCAN):
            self.findings.append(Finding(source, f"col {hit.start + 1}", hit.masked))

    # -- log records ---------------------------------------------------------

    def install(self) -> None:
        """Scan every log record at creation, from now on."""
        previous = logging.getLogRecordFactory()
        self._factory = previous
        guard = self

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if not str(record.name or "").startswith(PAN_FIXTURE_LOGGER):
                guard.scanned["log records"] += 1
                guard.scan_text(_record_text(record), f"log record {record.name}")
            return record

        logging.setLogRecordFactory(factory)
        root = logging.getLogger()
        if root.level > logging.INFO or root.level == logging.NOTSET:
            self._root_level = root.level
            root.setLevel(logging.INFO)

    def uninstall(self) -> None:
        """Restore the logging setup found by ``install``."""
        if self._factory is not None:
            logging.setLogRecordFactory(self._factory)
        if self._root_level is not None:
            logging.getLogger().setLevel(self._root_level)

    # -- files ---------------------------------------------------------------

    def seal(self, path: Path) -> None:
        """Accept ``path`` as an intentional PAN input, with its current content."""
        if path.is_file():
            self.sealed[path.resolve()] = _digest(path)

    def scan_files(
        self, roots: Iterable[Path], kind: str = "files", skip_unreadable: bool = False
    ) -> None:
        """Scan every file under ``roots`` except sealed inputs left unchanged."""
        seen: set[Path] = set()
        for root in roots:
            for path in _files(root):
                real = path.resolve()
                if real in seen:
                    continue
                seen.add(real)
                if real in self.sealed and self.sealed[real] == _digest(real):
                    continue
                self.scanned[kind] += 1
                try:
                    self.findings.extend(scan_file(path, **_SCAN))
                except Exception:  # e.g. a partial file a killed process left: its raw bytes
                    try:
                        self.findings.extend(scan_bytes(path.read_bytes(), str(path), **_SCAN))
                    except OSError as exc:  # cannot be read: reported, unless told to skip
                        if skip_unreadable:  # (a live Ray moves and rotates its logs)
                            self.scanned[kind] -= 1
                            continue
                        self.findings.append(Finding(str(path), f"unreadable: {exc!r}"[:200], "?"))


def _record_text(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # a bad format string: scan what is there
        text = f"{record.msg} {record.args}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
    elif root.is_dir():
        for folder, _, names in os.walk(root):  # no symlinked folders: they point elsewhere
            for name in sorted(names):
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    yield path


_GUARD = pytest.StashKey[PanGuard]()
_REPORTS_TO: list[PanGuard] = []


def pytest_configure(config: pytest.Config) -> None:
    guard = PanGuard()
    guard.install()
    config.stash[_GUARD] = guard
    _REPORTS_TO[:] = [guard]  # test reports carry no config
    config.pluginmanager.register(_Leave(), "fraudlens-leave")


_SESSION = pytest.StashKey[pytest.Session]()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _GUARD in config.stash:
        config.stash[_GUARD].uninstall()


class _Leave:
    """The very last hook: ``_leave``."""

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        _leave(config)


def _leave(config: pytest.Config) -> None:
    """End the test process once every report is written, without interpreter finalization.

    A full run once crashed (SIGSEGV in a native thread) after its summary, while
    the interpreter tore down: the results were in, the exit code was lost. So the
    last hook stops Ray if this process started one, flushes, and exits with the
    session's own status.
    """
    session = config.stash.get(_SESSION, None)
    if session is None:
        return
    if _GUARD in config.stash and config.stash[_GUARD].findings:
        # Again after the summary: a CI log that keeps only its tail says why it failed.
        print(f"PAN scan FAILED (exit status {int(session.exitstatus)}):", flush=True)
        for finding in list(dict.fromkeys(config.stash[_GUARD].findings))[:10]:
            print(f"  {_short(finding.source)}: {finding.location}: {finding.masked}")
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(session.exitstatus))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        data_dir = os.environ.get("FRAUDLENS_DATA_DIR")
        if data_dir:
            item.config.stash[_GUARD].data_dirs.add(Path(data_dir))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _REPORTS_TO:
        return
    guard = _REPORTS_TO[0]
    guard.scanned["test reports"] += 1
    for title, content in report.sections:
        guard.scan_text(content, f"{report.nodeid} ({title})")
    if report.failed:
        guard.scan_text(report.longreprtext, f"{report.nodeid} (failure report)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    config.stash[_SESSION] = session
    if _GUARD not in config.stash or not hasattr(config, "_tmp_path_factory"):
        return
    guard = config.stash[_GUARD]
    basetemp = config._tmp_path_factory.getbasetemp().resolve()
    outside = {d.resolve() for d in guard.data_dirs if not d.resolve().is_relative_to(basetemp)}
    guard.scan_files([basetemp, *sorted(outside)])
    guard.scan_files(_ray_logs(guard.started), "Ray log files", skip_unreadable=True)
    counts = ", ".join(f"{n:,} {kind}" for kind, n in guard.scanned.items())
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write("\n")

    def write(line: str, **markup: bool) -> None:
        if reporter:
            reporter.write_line(line, **markup)
        else:  # -p no:terminal
            print(line)

    if not guard.findings:
        write(f"PAN scan: clean ({counts}; {len(guard.sealed)} sealed test inputs skipped)")
        return
    findings = list(dict.fromkeys(guard.findings))  # a record is also in its test's report
    write(f"PAN scan FAILED: {len(findings)} card number(s) found ({counts}):", red=True)
    for finding in findings[:50]:
        write(f"  {_short(finding.source)}: {finding.location}: {finding.masked}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _ray_logs(since: float) -> list[Path]:
    """Application logs of the Ray sessions (on this machine) started after ``since``."""
    root = Path(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()) / "ray"  # as Ray does
    logs: list[Path] = []
    for session in sorted(root.glob("session_*")):
        try:
            fresh = not session.is_symlink() and session.stat().st_mtime >= since  # not _latest
        except OSError:  # removed meanwhile
            continue
        if fresh:
            logs += ray_application_logs(session)
    return logs


def _short(source: str) -> str:
    return re.sub(r"^/tmp/pytest-of-[^/]+/", "", source)


@pytest.fixture(scope="session")
def pan_guard(pytestconfig: pytest.Config) -> PanGuard:
    """The session's PAN guard (``add`` findings from stores the tests used)."""
    return pytestconfig.stash[_GUARD]


@pytest.fixture
def pan_fixture_path(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pan_guard: PanGuard
) -> Iterator[Callable[[str], Path]]:
    """``pan_fixture_path(name)``: where to write a file that holds a PAN on purpose."""
    label = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:30]
    folder = tmp_path_factory.mktemp(f"{FIXTURE_DIR}-{label}", numbered=True)
    made: list[Path] = []

    def make(name: str) -> Path:
        if Path(name).name != name:
            raise ValueError(f"pan_fixture_path: a plain file name, not {name!r}")
        path = folder / name
        made.append(path)
        return path

    yield make
    for path in made:
        pan_guard.seal(path)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Undo ``configure_logging`` by a CLI test: its handler would outlive the captured
    stream and print "--- Logging error ---" tracebacks (with test sources) ever after."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
    root.setLevel(level)
