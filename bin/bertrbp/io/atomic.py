"""Atomic outputs, and the one rule every tool follows for its output folder.

The rule (docs/architecture.md, "Outputs"): a tool creates or atomically replaces only the files and named
sub-folders it documents as its outputs (``predictions.tsv``, ``model/``, ``logos/``...). It never empties,
removes or replaces the folder it was given (``--output-dir``) nor anything in it that it does not name, so
pointing a tool at a folder that holds the user's inputs or other results is safe: they are left as they were.

Each output is written under a staging name beside its target (``.<name>.<random>.tmp``, same file system so
the final rename is atomic) and renamed only when complete. The staging name is removed on success, on an
error, and on SIGTERM/SIGINT (``cli.common.run`` turns both into an exception, so these ``finally`` blocks
run). Outputs get the usual permissions (0666/0777 minus the umask), whatever the writer library chose: they
are published and shared.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from bertrbp.errors import InputError, raise_if_interrupted


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_permissions(path: Path) -> None:
    """Files 0666 and folders 0777 minus the umask (execute bits kept on files that have them)."""
    mask = _umask()
    if path.is_dir() and not path.is_symlink():
        os.chmod(path, 0o777 & ~mask)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o777 & ~mask)
            for name in files:
                full = os.path.join(root, name)
                if not os.path.islink(full):
                    executable = os.stat(full).st_mode & 0o111
                    os.chmod(full, (0o777 if executable else 0o666) & ~mask)
    elif path.is_file():
        os.chmod(path, 0o666 & ~mask)


def _remove(path: Path) -> None:
    """Remove a staging file or folder of ours; never raises (it runs while another error propagates)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError:
        pass


def _nearest_existing(path: Path) -> Path:
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _check_parent(path: Path, what: str) -> None:
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise InputError(
            f"{path}: cannot write the {what} because {base} is a file, not a folder. " "Choose another output path."
        )
    _check_writable(base, path, what)


def _check_writable(folder: Path, path: Path, what: str) -> None:
    """Permission bits first, then a real probe file (root on a read-only mount passes os.access)."""
    problem = None if os.access(folder, os.W_OK | os.X_OK) else "no write permission"
    if problem is None:
        try:
            fd, probe = tempfile.mkstemp(prefix=".bertrbp-probe.", suffix=".tmp", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            problem = exc.strerror or str(exc)
    if problem:
        raise InputError(
            f"{path}: cannot write the {what}: folder {folder} is not writable ({problem}). "
            "Choose a writable output folder or fix its permissions."
        )


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (links and other spellings included); False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwriting_inputs(outputs: Mapping[str, Path], inputs: Mapping[str, Iterable[Path]]) -> None:
    """Refuse, before any work, an output file that is one of the run's input files or another of its outputs.

    ``outputs`` and ``inputs`` are keyed by how the user named them (``--output``, ``-o``, ``--vcf``). Why here:
    a tool also writes files it names itself (scan's ``PREFIX.peaks.bed``, variant-effect's ``.skipped.tsv``), and
    one of those could be the input the user gave (``--bed out.peaks.bed``): it was replaced with exit 0.
    """
    seen: dict[str, Path] = {}
    for label, value in outputs.items():
        path = Path(value)
        if is_special(path):
            continue
        for other, earlier in seen.items():
            if path.absolute() == earlier.absolute() or same_file(path, earlier):
                raise InputError(
                    f"{path}: given as two outputs, {other} and {label}; one would overwrite the other. "
                    "Give each output its own path."
                )
        seen[label] = path
        if not path.is_file():
            continue
        for given, paths in inputs.items():
            for candidate in paths:
                if candidate is not None and Path(candidate).is_file() and same_file(path, Path(candidate)):
                    raise InputError(
                        f"{path}: the output ({label}) is also an input of this run ({given}); writing it would "
                        "destroy the input. Give the output another path."
                    )


def is_special(path: Path) -> bool:
    """An existing target that is not a regular file or folder (``/dev/null``, ``/dev/stdout``, a named pipe),
    followed through symlinks: written into directly, never replaced by a file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Refuse, before any work, a file output that cannot be written: a folder in the way or no write access."""
    path = Path(path)
    if is_special(path):
        return path  # a device or a pipe: nothing is created beside it
    if path.is_symlink():
        path = path.resolve()  # the file the link names is the output; the link stays
    if path.is_dir():
        raise InputError(f"{path}: a folder is in the way of the {what}. Give a file name (or remove the folder).")
    _check_parent(path, what)
    return path


def check_output_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Refuse, before any work, an output folder that is a file or cannot be written into."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: the {what} is an existing file. Give a folder (new or existing).")
    if path.is_dir():
        _check_writable(path, path, what)
    else:
        _check_parent(path, what)
    return path


@contextlib.contextmanager
def parents_made(folder: Path) -> Iterator[None]:
    """Create ``folder`` and its missing parents; if the block fails, remove the ones made here that are empty.

    Why: a writer opens its output before it reads the input it streams, so a run refused on its first record
    (``-o new/sub/p.tsv``) left the folders it had created behind, empty. Folders that existed are never touched.
    """
    made = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        made.append(probe)  # deepest first
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        yield
    except BaseException:
        for path in made:
            if not path.exists():
                continue  # a mkdir that failed part-way
            try:
                path.rmdir()
            except OSError:
                break  # not empty (another writer's output): it and its parents stay
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging path next to ``path``; rename it onto ``path`` only if the block succeeds.

    A symlink is followed: the file it names is replaced and the link stays. A device or a named pipe
    (``-o /dev/stdout``) is yielded as it is and written into directly, since it cannot be staged or replaced.
    """
    final = Path(path)
    if is_special(final):
        yield final
        raise_if_interrupted()
        return
    if final.is_symlink():
        final = final.resolve()
    if final.is_dir():
        raise InputError(f"{final}: a folder is in the way of this output file. Give a file name (or remove it).")
    with parents_made(final.parent):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            raise_if_interrupted()  # never publish the output of an interrupted run
            _publish_permissions(tmp)  # mkstemp makes 0600, and the writer may have replaced the file
            os.replace(tmp, final)
        finally:
            _remove(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a file for writing that appears under ``path`` only when closed without error; gzip-compressed when
    the name ends in ``.gz``.

    Why gzip: ``-o predictions.tsv.gz`` wrote plain text under a gzip name, which ``zcat`` and pandas then refuse;
    every reader of the suite takes gzip files by their content."""
    compressed = Path(path).name.endswith(".gz") and not is_special(Path(path))
    with atomic_path(path) as tmp:
        if compressed:
            import gzip

            with gzip.open(tmp, mode if "b" in mode else mode.replace("t", "") + "t", **kwargs) as handle:
                yield handle
        else:
            with open(tmp, mode, **kwargs) as handle:
                yield handle


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder that becomes the named output folder ``path`` when the block succeeds.

    Only for a sub-folder the tool names as one of its outputs (``model/``, ``logos/``, a corpus folder),
    never for the folder the user gave: an earlier copy of ``path`` is replaced as a whole, so whatever is in it
    is gone. The earlier copy is moved aside first and removed only after the new one is in place.
    """
    final = Path(path)
    if final.exists() and not final.is_dir():
        raise InputError(f"{final}: a file is in the way of this output folder. Remove it or choose another path.")
    with parents_made(final.parent):
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        old = None
        try:
            yield tmp
            raise_if_interrupted()
            _publish_permissions(tmp)
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
                os.replace(final, old)  # an empty folder as target: rename replaces it
            os.replace(tmp, final)
        except BaseException:
            if old is not None and old.exists() and not final.exists():
                os.replace(old, final)  # put the earlier copy back
            raise
        finally:
            _remove(tmp)
            if old is not None:
                _remove(old)


STAGING_NAME = re.compile(r"\.(.+)\.[A-Za-z0-9_]{8}\.(tmp|old)")  # tempfile's 8 random characters


def remove_staging(folder: str | os.PathLike) -> None:
    """Clean up after a writer killed by SIGKILL under ``folder`` (its ``finally`` blocks never ran): remove its
    staging names, and put back an earlier copy it had moved aside (``.old``) when the new one never arrived.
    Only names of this module's making are touched."""
    found = [p for p in Path(folder).rglob(".*") if STAGING_NAME.fullmatch(p.name)] if Path(folder).is_dir() else []
    for path in sorted(found, key=lambda p: len(p.parts)):  # a staging folder before what it holds
        if not (path.exists() or path.is_symlink()):
            continue
        final = path.with_name(STAGING_NAME.fullmatch(path.name).group(1))
        if path.name.endswith(".old") and not final.exists():
            os.replace(path, final)
        else:
            _remove(path)


def is_out_of_space(exc: BaseException) -> bool:
    """An OSError meaning the disk (or quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


_OS_ERROR = re.compile(r"\(os error (\d+)\)")  # how Rust (safetensors) shows the errno of an I/O error


def reraise_os_error(exc: BaseException, path: str | os.PathLike) -> None:
    """Raise the OSError a writing library reported as its own exception (safetensors: ``SafetensorError('... No
    space left on device (os error 28)')``), naming ``path``; return when ``exc`` carries none.

    Why: ``cli.common.run`` turns an OSError into one line and exit 4 (disk full) or 2; any other exception is a
    traceback and exit 1.
    """
    match = _OS_ERROR.search(str(exc))
    if match:
        code = int(match.group(1))
        raise OSError(code, os.strerror(code), str(path)) from exc


class KeptWriteErrors:
    """A binary file for a writer library (``torch.save``) that keeps the OSError of a failed write.

    Why: torch.save turns its file's write errors into ``RuntimeError('unexpected pos ...')``, naming no cause; a
    full disk then ended a tool with a traceback. ``reraise(path)`` raises the kept OSError instead.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.handle.flush()

    def reraise(self, path: str | os.PathLike) -> None:
        """Raise the kept write error, naming ``path``; return when no write failed."""
        if self.error is not None:
            raise OSError(self.error.errno, self.error.strerror, str(path)) from self.error
