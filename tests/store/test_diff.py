from engine import load_program
from engine.language.diff import diff
from tests.store.helpers import retail_version


def test_diff_names_rules_by_id():
    old = load_program(retail_version(1))
    sources = retail_version(2, ("electronics: 2.0", "electronics: 3.0"))
    sources["campaigns.yaml"] = sources["campaigns.yaml"].replace("id: fashion-week", "id: fw-2")
    sources["tiers.yaml"] = sources["tiers.yaml"].replace('min_spend: "1500.00"', 'min_spend: "1200"')
    new = load_program(sources)
    out = diff(old, new).to_json()
    assert [a["rule"] for a in out["added"]] == ["campaigns.fw-2"]
    assert [r["rule"] for r in out["removed"]] == ["campaigns.fashion-week"]
    assert {c["rule"]: c["changes"] for c in out["changed"]} == {
        "earning.categories.electronics": [{"field": "value", "old": "2", "new": "3"}],
        "tiers.gold": [{"field": "qualification.min_spend", "old": "1500.00", "new": "1200"}],
    }


def test_equal_values_written_differently_are_no_change():
    a = load_program(retail_version(1))
    b = load_program(retail_version(2, ("electronics: 2.0", 'electronics: "2.00"')))
    assert diff(a, b).identical and "no rule changed" in diff(a, b).to_text()
