"""Ruleset files from an upload: YAML files, archives of a ruleset folder, located refusals."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from engine.errors import RulesetInvalid
from engine.language.uploads import upload_sources
from engine.language.yaml_reader import Limits

PROGRAM = b"program: demo\nversion: 1\n"
EARNING = b"earning:\n  base_rate: '1'\n"


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _tgz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _errors(files: list[tuple[str, bytes]], limits: Limits | None = None) -> list[str]:
    with pytest.raises(RulesetInvalid) as caught:
        upload_sources(files, limits) if limits else upload_sources(files)
    return [str(e) for e in caught.value.errors]


def test_yaml_files_by_base_name_in_name_order() -> None:
    sources = upload_sources([("C:\\work\\program.yaml", PROGRAM), ("dir/earning.yml", EARNING)])
    assert sources == {"earning.yml": EARNING.decode(), "program.yaml": PROGRAM.decode()}


@pytest.mark.parametrize("pack, name", [(_zip, "demo.zip"), (_tgz, "demo.tar.gz")])
def test_an_archive_of_a_folder_gives_its_own_files(pack, name) -> None:  # type: ignore[no-untyped-def]
    archive = pack({"demo/program.yaml": PROGRAM, "demo/earning.yaml": EARNING,
                    "demo/tests/suite.yaml": b"not: [yaml", "demo/README.md": b"# demo"})
    assert upload_sources([(name, archive)]) == {"earning.yaml": EARNING.decode(),
                                                 "program.yaml": PROGRAM.decode()}


def test_refusals_are_located_and_all_reported() -> None:
    errors = _errors([("notes.txt", b"hello"), ("bad.zip", b"PK not really"),
                      ("latin.yaml", "name: café".encode("latin-1")),
                      ("empty.zip", _zip({"readme.md": b"x"}))])
    assert errors == [
        "bad.zip:1:1: $: cannot read the archive: File is not a zip file",
        "empty.zip:1:1: $: the archive holds no .yaml files",
        "latin.yaml:1:1: $: not UTF-8 text: unexpected end of data at byte 9",
        ("notes.txt:1:1: $: not a ruleset file (hint: Upload .yaml files, or one .zip or "
        ".tar.gz archive of a ruleset folder.)"),
    ]


def test_two_files_of_one_name_and_nothing_given() -> None:
    assert _errors([("a/program.yaml", PROGRAM), ("b/program.yaml", PROGRAM)]) == [
        "program.yaml:1:1: $: two uploaded files have this name"]
    assert _errors([]) == ["<upload>:1:1: $: no ruleset files given"]


def test_members_are_read_no_further_than_the_limit() -> None:
    big = b"x: '" + b"a" * 5000 + b"'\n"
    archive = _zip({"demo/program.yaml": PROGRAM, "demo/big.yaml": big})
    errors = _errors([("demo.zip", archive)], Limits(max_bytes=1000))
    assert errors == [("big.yaml:1:1: $: file is larger than 1000 bytes (hint: Split the "
                      "ruleset into a folder of files, one per section.)")]


def test_a_compressed_tar_is_refused_before_it_is_expanded() -> None:
    """A .tar.gz bomb: its members' declared sizes add up to more than the archive may hold
    (200 files at the file limit), and it is refused from the headers, unexpanded."""
    limits = Limits(max_bytes=1000)
    bomb = _tgz({"demo/program.yaml": PROGRAM, "demo/zeros.bin": bytes(300_000)})
    assert len(bomb) < 2000
    assert _errors([("demo.tar.gz", bomb)], limits) == [
        ("demo.tar.gz:1:1: $: cannot read the archive: its files add up to more than "
         "200000 bytes")]


def test_a_tar_of_too_many_entries_is_refused() -> None:
    """Folders, links and files all count: the archive is not listed beyond the limit."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for i in range(201):
            archive.addfile(_directory(f"demo/d{i}"))
        info = tarfile.TarInfo("demo/program.yaml")
        info.size = len(PROGRAM)
        archive.addfile(info, io.BytesIO(PROGRAM))
    assert _errors([("demo.tgz", out.getvalue())]) == [
        "demo.tgz:1:1: $: cannot read the archive: more than 200 entries"]


def _directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info
