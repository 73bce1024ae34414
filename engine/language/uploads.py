"""Ruleset files from an upload: `.yaml` files as they are, or the `.yaml` files of one
`.zip`, `.tar`, `.tar.gz` or `.tgz` archive of a ruleset folder.

An archive's ruleset files are the `.yaml`/`.yml` files of its shallowest folder that has
any (so `retail/*.yaml` of an archive of the folder `retail/`; sub-folders such as
`retail/tests/` are not part of the ruleset, as with a folder on disk). Files are named by
their base names. Every problem — a file that is not YAML or not UTF-8, a member too large,
a damaged archive, two files of one name — is reported at once as a located error.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import PurePosixPath

from engine.errors import RulesetError, RulesetInvalid
from engine.language.yaml_reader import DEFAULT_LIMITS, Limits, too_big

YAML = (".yaml", ".yml")
ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")
MAX_MEMBERS = 200


def upload_sources(files: Sequence[tuple[str, bytes]],
                   limits: Limits = DEFAULT_LIMITS) -> dict[str, str]:
    """`{file name: YAML text}` of uploaded `(name, content)` pairs; raises RulesetInvalid."""
    errors: list[RulesetError] = []
    found: list[tuple[str, bytes]] = []
    for name, content in files:
        base = PurePosixPath(name.replace("\\", "/")).name
        lower = base.lower()
        if lower.endswith(YAML):
            if len(content) > limits.max_bytes:
                errors.append(too_big(base, limits))
            else:
                found.append((base, content))
        elif lower.endswith(ARCHIVES):
            try:
                found.extend(_archive_members(base, content, limits, errors))
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
                errors.append(RulesetError(base, 1, 1, "$", f"cannot read the archive: {exc}"))
        else:
            errors.append(RulesetError(base or "<upload>", 1, 1, "$",
                                       "not a ruleset file", "Upload .yaml files, or one .zip "
                                       "or .tar.gz archive of a ruleset folder."))
    sources: dict[str, str] = {}
    for name, content in found:
        if name in sources:
            errors.append(RulesetError(name, 1, 1, "$", "two uploaded files have this name"))
            continue
        try:
            sources[name] = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(RulesetError(name, 1, 1, "$", f"not UTF-8 text: {exc.reason} at "
                                                        f"byte {exc.start}"))
    if not sources and not errors:
        errors.append(RulesetError("<upload>", 1, 1, "$", "no ruleset files given"))
    if errors:
        raise RulesetInvalid(errors)
    return dict(sorted(sources.items()))


def _archive_members(archive: str, content: bytes, limits: Limits,
                     errors: list[RulesetError]) -> list[tuple[str, bytes]]:
    with _opened(archive, content, MAX_MEMBERS * limits.max_bytes) as entries:
        members = [(PurePosixPath(path), read) for path, read in entries
                   if path.lower().endswith(YAML)]
        if not members:
            errors.append(RulesetError(archive, 1, 1, "$", "the archive holds no .yaml files"))
            return []
        shallowest = min(len(path.parts) for path, _ in members)
        out = []
        for path, read in members:
            if len(path.parts) != shallowest:
                continue
            data = read(limits.max_bytes + 1)  # never more, whatever the archive declares
            if len(data) > limits.max_bytes:
                errors.append(too_big(path.name, limits))
            else:
                out.append((path.name, data))
        return out


Entries = list[tuple[str, Callable[[int], bytes]]]


@contextmanager
def _opened(archive: str, content: bytes, max_total: int) -> Iterator[Entries]:
    """(path, read at most n bytes) of each regular file of the archive, while it is open.
    A tar whose files declare more than `max_total` bytes in all is refused unexpanded."""
    if archive.lower().endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(content)) as zipped:
            infos = [i for i in zipped.infolist() if not i.is_dir()]
            if len(infos) > MAX_MEMBERS:
                raise zipfile.BadZipFile(f"more than {MAX_MEMBERS} files")
            yield [(i.filename, partial(_read_zip, zipped, i)) for i in infos]
        return
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as tar:
        yield [(m.name, partial(_read_tar, tar, m)) for m in _tar_files(tar, max_total)]


def _tar_files(tar: tarfile.TarFile, max_total: int) -> list[tarfile.TarInfo]:
    """The regular files of a tar, listed header by header: a compressed tar is expanded only
    as far as its listing goes, and refused as soon as its entries are too many or their
    declared sizes add up to more than `max_total` (before that data is expanded)."""
    files, total = [], 0
    for count, member in enumerate(tar, start=1):  # the next header is read after this check
        if count > MAX_MEMBERS:
            raise tarfile.TarError(f"more than {MAX_MEMBERS} entries")
        total += max(member.size, 0)
        if total > max_total:
            raise tarfile.TarError(f"its files add up to more than {max_total} bytes")
        if member.isfile():
            files.append(member)
    return files


def _read_zip(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, most: int) -> bytes:
    with zipped.open(info) as member:
        return member.read(most)


def _read_tar(tar: tarfile.TarFile, member: tarfile.TarInfo, most: int) -> bytes:
    extracted = tar.extractfile(member)
    return extracted.read(most) if extracted is not None else b""
