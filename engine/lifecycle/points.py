"""Points in a book: lots credited, consumed oldest-expiry first, expired, clawed back,
restored — each step as ledger entries.

Invariants kept by every function here (the stateful tests check them after each step):

* balance == sum of the member's entries == sum of open lots' `left` - debt;
* debt > 0 only when no lot is open: a credit repays debt before it opens a lot, and a
  clawback takes from lots before it runs into debt; so expiry never touches debt;
* an open lot has `left` > 0; lots are kept in consumption order (soonest expiry first,
  then the order they were credited in).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from datetime import datetime

from engine.lifecycle.book import Lot, MemberBook
from engine.lifecycle.changes import Draw, Entry

DEBT_LOT = 0


def _draw(lot: Lot, points: int) -> Draw:
    return Draw(lot.no, points, lot.expires_at, lot.earned_at, lot.source)


def _insert(book: MemberBook, lot: Lot) -> None:
    lots = book.lots
    if not lots or lots[-1].sort_key() <= lot.sort_key():
        lots.append(lot)  # the usual case: a new lot expires last (where insort puts it)
    else:
        insort(lots, lot, key=Lot.sort_key)


def open_lot(book: MemberBook, points: int, at: datetime, expires_at: datetime | None,
             source: str, order_id: str | None = None) -> tuple[int, tuple[Draw, ...]]:
    """Credit `points` as a new lot; debt is repaid first. Returns the lot's number and
    the repayment (a draw on the debt), if any. `order_id`: `source` is that order's
    ("order:<order_id>"), and the lot keeps only the id."""
    no = book.next_lot
    book.next_lot += 1
    repaid = min(book.debt, points)
    book.debt -= repaid
    if points - repaid > 0:
        left = points - repaid
        _insert(book, Lot(no, at, expires_at, points, left, source) if order_id is None
                else Lot.of_order(no, at, expires_at, points, left, order_id))
        book.held += points - repaid
    repay = (Draw(DEBT_LOT, repaid, None, at, source),) if repaid else ()
    return no, repay


def _usable(book: MemberBook, lot: Lot, at: datetime) -> bool:
    """Whether a redemption at `at` may draw on `lot`. In a book brought to `at`
    (`Lifecycle.advance`), every open lot: what was due has expired, and a lot a store's
    clock kept open (due by `at` but not yet by the clock) is not expired. Otherwise the
    lots earned by `at` and not expired then."""
    return at == book.last_at or (lot.earned_at <= at
                                  and (lot.expires_at is None or lot.expires_at > at))


def spendable(book: MemberBook, at: datetime) -> int:
    """Points a redemption at `at` may use: the usable lots (`_usable`), less debt (a
    book with debt has no open lot, so that is then negative)."""
    if at == book.last_at:
        return book.held - book.debt
    return sum(lot.left for lot in book.lots if _usable(book, lot, at)) - book.debt


def take_fifo(book: MemberBook, points: int, at: datetime) -> tuple[Draw, ...]:
    """Consume `points` from the lots usable at `at` (the ones `spendable` counts),
    soonest expiry first. The caller checked `spendable`; asking for more is a
    programming error."""
    draws, left = [], points
    keep = []
    for lot in book.lots:
        if left and _usable(book, lot, at):
            take = min(left, lot.left)
            lot.left -= take
            left -= take
            draws.append(_draw(lot, take))
        if lot.left:
            keep.append(lot)
    if left:
        raise AssertionError(f"lots short by {left} points for member {book.member_id}")
    book.lots = keep
    book.held -= points
    return tuple(draws)


def any_due(book: MemberBook, at: datetime) -> bool:
    """Whether a lot expires at or before `at` (the soonest-expiring lot leads)."""
    lots = book.lots
    return bool(lots) and lots[0].expires_at is not None \
        and lots[0].expires_at <= at  # type: ignore[operator]


def expire_due(book: MemberBook, at: datetime) -> list[Entry]:
    """An `expire` entry for every lot whose time is at or before `at`, dated at the
    lot's expiry (lots are kept soonest expiry first: the due ones lead)."""
    lots = book.lots
    due = 0
    while due < len(lots) and lots[due].expires_at is not None \
            and lots[due].expires_at <= at:  # type: ignore[operator]
        due += 1
    if not due:
        return []
    out = [Entry("expire", -lot.left, "redemption.expiry", "expiry", str(lot.no),
                 lot.expires_at, draws=(_draw(lot, lot.left),))  # type: ignore[arg-type]
           for lot in lots[:due]]
    book.held -= sum(lot.left for lot in lots[:due])
    del lots[:due]
    return out


def claw_back(book: MemberBook, points: int, own: Iterable[int], at: datetime
              ) -> tuple[Draw, ...]:
    """Take `points` back for a refund: from the order's own lots first, then from the
    member's other lots (soonest expiry first), and what no lot holds becomes debt."""
    wanted = set(own)
    draws: list[Draw] = []
    left = points
    for mine in (True, False):
        for lot in book.lots:
            if left and (lot.no in wanted) == mine and lot.left:
                take = min(left, lot.left)
                lot.left -= take
                left -= take
                draws.append(_draw(lot, take))
    book.lots = [lot for lot in book.lots if lot.left]
    book.held -= points - left
    if left:
        book.debt += left
        draws.append(Draw(DEBT_LOT, left, None, at, "debt"))
    return tuple(draws)


def take_own(book: MemberBook, points: int, own: Iterable[int]) -> tuple[Draw, ...]:
    """Take up to `points` back from the order's own lots only (what they still hold)."""
    wanted = set(own)
    draws: list[Draw] = []
    left = points
    for lot in book.lots:
        if left and lot.no in wanted:
            take = min(left, lot.left)
            if take:
                lot.left -= take
                left -= take
                draws.append(_draw(lot, take))
    book.lots = [lot for lot in book.lots if lot.left]
    book.held -= points - left
    return tuple(draws)


def restore(book: MemberBook, draws: Iterable[Draw], at: datetime) -> tuple[Draw, ...]:
    """Give drawn points back to the lots they came from (a cancelled redemption, a
    released hold). Debt is repaid first; a lot that has closed meanwhile is reopened
    with its expiry (and expires at once if that has passed: the caller expires due
    lots after restoring)."""
    given: list[Draw] = []
    for draw in draws:
        points = draw.points
        if draw.lot == DEBT_LOT:
            continue
        repaid = min(book.debt, points)
        if repaid:
            book.debt -= repaid
            given.append(Draw(DEBT_LOT, repaid, None, at, draw.source))
            points -= repaid
        if not points:
            continue
        lot = next((x for x in book.lots if x.no == draw.lot), None)
        if lot is None:
            _insert(book, Lot(draw.lot, draw.earned_at, draw.expires_at, points, points,
                              draw.source))
        else:
            lot.left += points
        book.held += points
        given.append(Draw(draw.lot, points, draw.expires_at, draw.earned_at, draw.source))
    return tuple(given)
