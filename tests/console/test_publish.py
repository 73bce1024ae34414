"""Publishing by upload in Chromium: located errors at their line, archives, warnings."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.console.browser import log_in, publish
from tests.console.conftest import Console, Tab, program_files


def test_an_error_is_shown_at_its_line(console: Console, tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    log_in(page, console.url, console.admin)
    files = program_files(tmp_path, "upload-error", 1, edit=("fashion: 1.5", "fashion: lots"))
    assert publish(page, console.url, files, "a typo") == 422

    assert "Nothing was published" in page.inner_text("#errors")
    line = page.locator('[id="earning.yaml-L7"]')
    assert "flagged" in (line.get_attribute("class") or "")
    text = line.inner_text()
    assert "fashion: lots" in text  # the offending line itself …
    assert "earning.yaml:7:14: $.earning.categories.fashion: 'lots' is not a valid" in text  # … and its error
    assert page.locator(".source li.flagged").count() == 1
    assert page.input_value("#message") == "a typo"  # the form is kept for another try

    page.goto(f"{console.url}/console/programs")
    assert "upload-error" not in page.inner_text("main")


def test_an_archive_of_a_ruleset_folder(console: Console, tab: Tab, tmp_path: Path) -> None:
    """The folder's own .yaml files are the ruleset; its tests/ sub-folder is not."""
    files = program_files(tmp_path / "zipped", "zipped", 1)
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for f in files:
            out.write(f, f"zipped/{f.name}")
        out.writestr("zipped/tests/suite.yaml", "not: [a ruleset")
    log_in(tab.page, console.url, console.admin)
    assert publish(tab.page, console.url, [archive], "from an archive") == 200
    assert "Published zipped version 1" in tab.page.inner_text(".success")

    tab.page.click("text=zipped version 1")
    assert tab.page.inner_text("h1").startswith("zipped version 1")
    assert "program: zipped" in tab.page.inner_text('[id="program.yaml-L4"]')
    assert tab.page.locator('[id="source-suite.yaml"]').count() == 0


def test_warnings_are_shown_at_their_line(console: Console, tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    log_in(page, console.url, console.admin)
    assert publish(page, console.url, program_files(tmp_path / "v1", "warned", 1)) == 200
    # Version 2 keeps version 1's effective_from: published, with a warning.
    assert publish(page, console.url, program_files(tmp_path / "v2", "warned", 2)) == 200
    assert "Published warned version 2" in page.inner_text(".success")
    assert "1 warning(s)" in page.inner_text("#warnings")
    line = page.locator('[id="program.yaml-L8"]')
    assert "warned" in (line.get_attribute("class") or "")
    note = line.locator(".note").inner_text()
    assert note.startswith("warning: program.yaml:8:") and "$.effective_from" in note
    assert "the same as version 1's" in note


def test_a_viewer_cannot_publish(console: Console, tab: Tab) -> None:
    log_in(tab.page, console.url, console.viewer)
    answer = tab.page.goto(f"{console.url}/console/publish")
    assert answer is not None and answer.status == 403
    assert "needs a key with the admin scope" in tab.page.inner_text("main")
