"""The tables the books migration reads and writes, as they are at revision 0009 (plus
the columns 0010 adds). Declared here, not taken from `store/tables/core.py`, so that the
migration keeps reading the old shape whatever the models become."""

from __future__ import annotations

import sqlalchemy as sa

from store.db.types import Money, UTCDateTime


def _table(name: str, *columns: sa.ColumnClause) -> sa.TableClause:
    return sa.table(name, *columns)


def _at(name: str) -> sa.ColumnClause:
    return sa.column(name, UTCDateTime())


def _money(name: str) -> sa.ColumnClause:
    return sa.column(name, Money())


def _json(name: str) -> sa.ColumnClause:
    return sa.column(name, sa.JSON())


def _plain(*names: str) -> list[sa.ColumnClause]:
    return [sa.column(name) for name in names]


members = _table("members", *_plain("id", "program", "member_id", "tier", "balance",
                                    "orders_count"),
                 _at("tier_since"), _json("attributes"), _at("created_at"), _json("book"),
                 _at("due_at"))
ledger = _table("ledger_entries", *_plain("id", "member_pk", "kind", "points", "remaining",
                                          "rule", "source_type", "source_ref", "lot_id",
                                          "lot"),
                _at("expires_at"), _at("occurred_at"))
allocations = _table("lot_allocations", *_plain("id", "debit_entry_id", "lot_entry_id",
                                                "points"))
orders = _table("orders", *_plain("id", "program", "order_id", "member_pk", "counted"),
                _json("request"), _json("result"), _at("placed_at"),
                _money("qualifying_spend"), _money("original_spend"),
                _money("refunded_fraction"), _json("record"))
refunds = _table("refunds", *_plain("id", "order_pk"), _json("result"))
redemptions = _table("redemptions", *_plain("id", "member_pk", "kind", "reward_id", "quantity",
                                            "points", "status", "order_id", "ledger_entry_id",
                                            "external_account"),
                     _at("hold_expires_at"), _at("occurred_at"), _json("record"))
redemption_events = _table("redemption_events", *_plain("id", "redemption_pk", "status"),
                           _at("at"), _json("detail"))
activity_events = _table("activity_events", *_plain("id", "member_pk"), _at("occurred_at"))
usage_counters = _table("usage_counters", *_plain("id", "member_pk", "kind", "key", "period",
                                                  "count", "points"),
                        _money("amount"), _at("started_at"))
auto_redemptions = _table("auto_redemptions", *_plain(
    "id", "member_pk", "enabled", "threshold", "unit", "method", "frequency_count",
    "frequency_per"))
referrals = _table("referrals", *_plain("id", "program", "friend_id", "referrer_id"),
                   _at("occurred_at"))
external_transfers = _table("external_transfers", *_plain("id", "redemption_pk", "points"))
ruleset_versions = _table("ruleset_versions", *_plain("program", "version"), _json("sources"))
activations = _table("activations", *_plain("id", "program", "version"),
                     _at("effective_from"))
