from datetime import UTC, datetime

import pytest

from engine import load_program
from store.errors import Conflict, NotFound, Unprocessable
from store.registry import audit
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from tests.store.helpers import publish_retail, retail_version


def test_publish_is_idempotent_for_identical_content(db):
    program = load_program(retail_version(1))
    with db.writing() as s:
        first, created = registry.publish(s, program, "alice", "first")
        again, created_again = registry.publish(s, program, "bob", "again")
    assert created and not created_again
    assert again.digest == first.digest == program.digest
    assert again.author == "alice"


def test_same_version_with_other_content_is_refused(db):
    publish_retail(db, 1, activate=False)
    changed = load_program(retail_version(1, ("electronics: 2.0", "electronics: 3.0")))
    with pytest.raises(Conflict) as err, db.writing() as s:
        registry.publish(s, changed, "alice")
    assert err.value.code == "version_exists"


def test_versions_only_increase(db):
    publish_retail(db, 3, activate=False)
    with pytest.raises(Conflict) as err, db.writing() as s:
        registry.publish(s, load_program(retail_version(2)), "alice")
    assert err.value.code == "version_not_increasing"


def test_stored_sources_reload_to_the_same_digest(db):
    program = publish_retail(db, 1)
    with db.reading() as s:
        sources = registry.sources_of(s, "retail", 1)
    assert sorted(sources) == ["campaigns.yaml", "earning.yaml", "engagement.yaml", "program.yaml",
                               "redemption.yaml", "rules.yaml", "tiers.yaml"]
    assert load_program(sources).digest == program.digest


def test_live_version_follows_activation_history_and_rollback(db):
    publish_retail(db, 1)  # effective from 2026-01-01 (declared)
    publish_retail(db, 2, activate=False)
    with db.writing() as s:
        registry.activate(s, "retail", 2, "ops", effective_from=datetime(2026, 6, 1, tzinfo=UTC))
        registry.activate(s, "retail", 1, "ops", effective_from=datetime(2026, 9, 1, tzinfo=UTC))
    cache = ProgramCache()
    with db.reading() as s:
        at = lambda *d: cache.live_version(s, "retail", datetime(*d, tzinfo=UTC))  # noqa: E731
        assert at(2026, 3, 1) == 1
        assert at(2026, 7, 1) == 2
        assert at(2026, 10, 1) == 1  # rolled back
        with pytest.raises(Unprocessable) as err:
            at(2025, 12, 1)
        assert err.value.code == "no_effective_version"


def test_activation_reaches_a_warm_cache_through_the_generation(db):
    publish_retail(db, 1)
    cache = ProgramCache()
    when = datetime(2026, 11, 17, tzinfo=UTC)
    with db.reading() as s:
        assert cache.resolve(s, "retail", when).version == 1
    publish_retail(db, 2)  # declared effective_from is the same instant: the later wins
    with db.reading() as s:
        assert cache.resolve(s, "retail", when).version == 2
        assert cache.resolve(s, "retail", when, pinned=1).version == 1


def test_unknown_program_and_version(db):
    publish_retail(db, 1)
    with db.reading() as s:
        with pytest.raises(NotFound) as err:
            registry.version_info(s, "nope", 1)
        assert err.value.code == "unknown_program"
        with pytest.raises(NotFound) as err:
            registry.version_info(s, "retail", 9)
        assert err.value.code == "unknown_version"


def test_admin_actions_are_audited(db):
    publish_retail(db, 1)
    with db.reading() as s:
        actions = [e.action for e in audit.entries(s)]
    assert actions == ["ruleset.activate", "ruleset.publish"]
