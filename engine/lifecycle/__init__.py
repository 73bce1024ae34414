"""The member lifecycle: one pure core for the store and the simulator.

Given a member's book (`MemberBook`) and one event — an order, a refund, an activity, a
redemption, a hold and its capture or release, a cancel, automatic redemption, time
passing — the core changes the book and returns what changed (`Step.changes`: ledger
entries with the lots they touched, tier changes, shared-budget and stock moves,
cashback). The store persists a step in one transaction; the simulator keeps books in
memory and adds steps up. Nothing about points is decided anywhere else.

    from engine.lifecycle import Lifecycle
    lc = Lifecycle(program)
    book = lc.new_book("M-1", at)
    step = commit_order(lc, book, request, pool, new_id)
"""

from engine.lifecycle.activities import (
    ActivityRefused,
    ActivityStep,
    UnknownTier,
    enrol,
    record_activity,
)
from engine.lifecycle.admin import AdminRefused, AdminStep, adjust, override_tier, set_status
from engine.lifecycle.book import MemberBook, from_json, to_json
from engine.lifecycle.changes import (
    AlertRaised,
    BudgetMove,
    CashbackMove,
    Change,
    CodeMove,
    Draw,
    Entry,
    MilestoneReached,
    StockMove,
    TierChange,
)
from engine.lifecycle.context import Lifecycle, NoPool, Pool, Step
from engine.lifecycle.orders import OrderStep, commit_order
from engine.lifecycle.records import OrderRecord, RedemptionRecord
from engine.lifecycle.redemptions import Ask, RedeemStep, cancel, configure_automatic, redeem
from engine.lifecycle.refunds import RefundRefused, RefundStep, refund, wanted_lines
from engine.lifecycle.status import MemberInactive, check_active

__all__ = [
    "ActivityRefused",
    "ActivityStep",
    "AdminRefused",
    "AdminStep",
    "AlertRaised",
    "Ask",
    "BudgetMove",
    "CashbackMove",
    "Change",
    "CodeMove",
    "Draw",
    "Entry",
    "Lifecycle",
    "MemberBook",
    "MemberInactive",
    "MilestoneReached",
    "NoPool",
    "OrderRecord",
    "OrderStep",
    "Pool",
    "RedeemStep",
    "RedemptionRecord",
    "RefundRefused",
    "RefundStep",
    "Step",
    "StockMove",
    "TierChange",
    "UnknownTier",
    "adjust",
    "cancel",
    "check_active",
    "commit_order",
    "configure_automatic",
    "enrol",
    "from_json",
    "override_tier",
    "record_activity",
    "redeem",
    "refund",
    "set_status",
    "to_json",
    "wanted_lines",
]
