"""Resume text from an uploaded file (PDF, Word .docx or plain text), read in a separate, bounded
process so that no file can tie up the service that received it.

A small file can be expensive to read: a ~90 KB DOCX that unpacks under the size guard into huge XML,
or a PDF with hundreds of thousands of text operators, took tens of seconds of CPU and hundreds of MB.
So every file is read by a fresh child process (``python -m warmpool.resumes``) that first limits
itself (CPU seconds, address space, open files, no core dumps, lower priority), is killed if it
outlives a wall-clock timeout, and may return at most ``MAX_RESUME_CHARS`` characters.
``ResumeReader`` runs at most ``max_workers`` children at once and lets at most ``max_waiting`` more
wait; beyond that, or after ``queue_timeout`` seconds of waiting, the caller hears "busy".
Every outcome is a ``ResumeText`` or a ``ResumeError`` whose message a candidate can act on.

The child gets the file on stdin and only the environment it needs (no secrets); it answers with one
JSON object on stdout. ``extract_text`` is what it runs (also usable directly on trusted files).
"""
from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass

MAX_RESUME_CHARS = 200_000
MAX_DOCX_UNCOMPRESSED = 30 * 1024 * 1024  # zip-bomb guard, before anything is unpacked
MAX_PDF_PAGES = 30


class ResumeError(ValueError):
    """The file was not read; the message says why, in words for the person who uploaded it."""


@dataclass(frozen=True)
class ResumeText:
    kind: str  # pdf | docx | txt
    text: str


@dataclass(frozen=True)
class ReadLimits:
    """What one file may cost. A real resume reads in well under a second and a few tens of MB."""
    cpu_seconds: int = 5
    wall_seconds: float = 20.0  # a backstop: the child runs niced, so a busy machine slows it
    memory_bytes: int = 256 * 1024 * 1024  # address space of the child (RLIMIT_AS), Python included
    output_bytes: int = 4 * MAX_RESUME_CHARS + 4096  # the JSON answer (UTF-8 text, escaped)


TOO_COSTLY = ("We could not read this file: it takes too much work to open (it may be very complex or damaged). "
              "Please upload a simpler PDF, a Word .docx or a plain-text file, or leave the resume out.")
BUSY = "We are reading many files right now. Please try again in a minute, or leave the resume out."


# --- what the child runs -------------------------------------------------------------------------

def extract_text(data: bytes) -> ResumeText:
    """The file's kind and text, from its bytes (the name and the browser's content type are ignored:
    the type is what the bytes say it is). ResumeError if it cannot be read."""
    if not data:
        raise ResumeError("The file is empty.")
    if data.startswith(b"%PDF-"):
        return ResumeText("pdf", _pdf_text(data))
    if data.startswith(b"PK\x03\x04"):
        return ResumeText("docx", _docx_text(data))
    return ResumeText("txt", _txt_text(data))


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader  # lazy: only a PDF upload needs it

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ResumeError("The PDF is password protected.")
        text = "\n".join((page.extract_text() or "") for page in reader.pages[:MAX_PDF_PAGES])
    except (ResumeError, MemoryError):
        raise
    except Exception as exc:  # pypdf raises many types on broken files
        raise ResumeError("The PDF could not be read.") from exc
    return _finish(text)


def _docx_text(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if "word/document.xml" not in zf.namelist():
                raise ResumeError("Only Word .docx files are accepted among zipped formats.")
            if sum(i.file_size for i in zf.infolist()) > MAX_DOCX_UNCOMPRESSED:
                raise ResumeError("The document is too large once unpacked.")
    except zipfile.BadZipFile as exc:
        raise ResumeError("The document could not be read.") from exc
    try:
        import docx  # lazy: only a Word upload needs python-docx

        document = docx.Document(io.BytesIO(data))
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                parts.append("\t".join(cell.text for cell in row.cells))
    except MemoryError:
        raise
    except Exception as exc:
        raise ResumeError("The document could not be read.") from exc
    return _finish("\n".join(parts))


def _txt_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ResumeError("Please upload a PDF, Word (.docx) or plain-text file.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return _finish(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise ResumeError("The text file's encoding is not supported; please save it as UTF-8.")


def _finish(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ResumeError("No text could be found in the file (scanned images cannot be read).")
    return text[:MAX_RESUME_CHARS]


def _limit_self(limits: ReadLimits) -> None:
    """The child's first act: cap its own CPU time (SIGXCPU ends it), address space (MemoryError) and
    open files; no core dumps; lower priority than the service it works for."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    os.nice(10)


def _child_main() -> int:
    limits = ReadLimits(**json.loads(sys.argv[1]))
    _limit_self(limits)
    data = sys.stdin.buffer.read()
    try:
        result = extract_text(data)
        answer = {"kind": result.kind, "text": result.text}
    except ResumeError as exc:
        answer = {"error": str(exc)}
    except (MemoryError, RecursionError):
        answer = {"error": TOO_COSTLY}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    return 0


# --- the service's side --------------------------------------------------------------------------

def _child_env() -> dict[str, str]:
    # Only what Python needs to start and find this package: none of the service's secrets.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


def read_in_child(data: bytes, limits: ReadLimits = ReadLimits()) -> ResumeText:
    """``extract_text`` in a fresh, limited child process; ResumeError on any failure or limit."""
    arg = json.dumps(limits.__dict__)
    proc = subprocess.Popen([sys.executable, "-m", "warmpool.resumes", arg], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_child_env(), close_fds=True)
    try:
        out, _ = proc.communicate(data, timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ResumeError(TOO_COSTLY) from None
    finally:
        if proc.poll() is None:  # e.g. the caller's thread was interrupted
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or not out or len(out) > limits.output_bytes:
        raise ResumeError(TOO_COSTLY)  # killed by its CPU limit, crashed, or said too much
    try:
        answer = json.loads(out)
    except ValueError:
        raise ResumeError(TOO_COSTLY) from None
    if "error" in answer:
        raise ResumeError(str(answer["error"]))
    return ResumeText(str(answer["kind"]), str(answer["text"])[:MAX_RESUME_CHARS])


class ResumeReader:
    """Reads resumes in child processes, at most ``max_workers`` at once and ``max_waiting`` queued
    (a bounded queue: uploads can never hold more than that many of the caller's threads)."""

    def __init__(self, limits: ReadLimits = ReadLimits(), max_workers: int = 1, max_waiting: int = 4,
                 queue_timeout: float = 30.0):
        self.limits, self.queue_timeout = limits, queue_timeout
        self._slots = threading.BoundedSemaphore(max_workers)
        self._admitted = threading.BoundedSemaphore(max_workers + max_waiting)

    def read(self, data: bytes) -> ResumeText:
        """Blocking (call it from a worker thread); ResumeError(BUSY) when the queue is full."""
        if not self._admitted.acquire(blocking=False):
            raise ResumeError(BUSY)
        try:
            if not self._slots.acquire(timeout=self.queue_timeout):
                raise ResumeError(BUSY)
            try:
                return read_in_child(data, self.limits)
            finally:
                self._slots.release()
        finally:
            self._admitted.release()


if __name__ == "__main__":
    sys.exit(_child_main())
