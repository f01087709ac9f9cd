"""The item page and the queue page, each as one service call: everything the page shows for
one moderator, read in one place, with its audit event committed once.

Opening an item does not claim it (browsing with j/k or a related link must not hold items
others could take); see moderation/review/claims.py for when a claim is taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models import OPEN_STATUSES, DecisionState, MediaReveal
from moderation.accounts.permissions import Action, can, require, visible_reports_clause
from moderation.audit import events as audit
from moderation.media.previews import PreviewOptions
from moderation.review import claims, contacts, decisions, reveals, wellness
from moderation.review.finalize import finalize_due
from moderation.review.item import ItemView, item_view
from moderation.review.queue import QueueFilters, QueueListing, list_queue, sla_deadline
from moderation.review.settings import ReviewSettings


@dataclass(frozen=True)
class ItemPermissions:
    """What this moderator may do on this report (the page shows only those controls)."""

    decide: bool
    decide_cluster: bool
    reveal: bool
    view_contact: bool
    take_over: bool


@dataclass(frozen=True)
class ItemPage:
    view: ItemView
    holder: claims.Holder | None
    viewer_id: int
    sla_deadline: datetime
    prefs: PreviewOptions
    revealed: dict[int, MediaReveal]
    wellness: wellness.WellnessStatus
    undoable: tuple[str, datetime, list[int]] | None
    contact_purposes: list[str]
    may: ItemPermissions

    @property
    def on_break_for_this_item(self) -> bool:
        """On a break, image items are served only when a bank match lets them be decided
        unseen."""
        return self.view.has_media and not self.wellness.images_allowed and not self.view.bank_match

    @property
    def held_by_me(self) -> bool:
        return self.holder is not None and self.holder.is_user(self.viewer_id)

    @property
    def held_by_other(self) -> bool:
        return self.holder is not None and not self.holder.is_user(self.viewer_id)

    @property
    def open(self) -> bool:
        return self.view.report.status in OPEN_STATUSES

    @property
    def pending(self) -> bool:
        return any(e.decision.state == DecisionState.PENDING for e in self.view.decisions)

    @property
    def can_decide_now(self) -> bool:
        """The decision form is offered: open, nothing pending, nobody else holding it."""
        return self.may.decide and self.open and not self.pending and not self.held_by_other


def open_item(
    session: Session,
    report_id: int,
    user: Any,
    review: ReviewSettings,
    wellness_settings: wellness.WellnessSettings,
    shown_reveals: Iterable[int] = (),
) -> ItemPage:
    """The item page of `report_id` for `user` (the signed-in moderator); commits once.

    Finalises any decision on it whose undo window has passed first, then reads the page and
    records `report.view`. `shown_reveals`: the reveals this visit made (shown unblurred
    while live); any other look is blurred. Raises NotFoundError for a report the user may
    not know exists."""
    finalize_due(session, [report_id])
    view = item_view(session, report_id, visible_reports_clause(user))
    report = view.report
    require(user, Action.VIEW_REPORT, report)
    page = ItemPage(
        view=view,
        holder=claims.current_holder(session, report.id),
        viewer_id=user.id,
        sla_deadline=sla_deadline(review.sla_hours, report),
        prefs=wellness.preferences(session, user.id),
        revealed=reveals.active_reveals(session, report.id, user.id, shown_reveals),
        wellness=wellness.status(session, user.id, wellness_settings),
        undoable=decisions.latest_undoable(session, user.id),
        contact_purposes=contacts.purposes_held(session, report.id),
        may=ItemPermissions(
            decide=can(user, Action.DECIDE, report),
            decide_cluster=can(user, Action.DECIDE_CLUSTER, report),
            reveal=can(user, Action.REVEAL_MEDIA, report),
            view_contact=can(user, Action.VIEW_CONTACT, report),
            take_over=can(user, Action.TAKE_OVER_CLAIM, report),
        ),
    )
    audit.record(
        session,
        "report.view",
        actor_user_id=user.id,
        object_type="report",
        object_id=report.id,
    )
    session.commit()
    return page


@dataclass(frozen=True)
class QueuePage:
    listing: QueueListing
    wellness: wellness.WellnessStatus
    undoable: tuple[str, datetime, list[int]] | None


def open_queue(
    session: Session,
    user: Any,
    review: ReviewSettings,
    wellness_settings: wellness.WellnessSettings,
    filters: QueueFilters,
    page: int,
) -> QueuePage:
    """The queue page for `user`: finalises what is due, lists the (filtered) queue and records
    the look (`queue.view`, with the report ids shown); commits once."""
    finalize_due(session)
    status = wellness.status(session, user.id, wellness_settings)
    listing = list_queue(
        session,
        review.sla_hours,
        user.id,
        visible_reports_clause(user),
        filters,
        page=page,
        images_allowed=status.images_allowed,
    )
    # Showing a report is an audited look, even on a list.
    audit.record(
        session,
        "queue.view",
        actor_user_id=user.id,
        details={"report_ids": [item.report.id for item in listing.items], "page": listing.page},
    )
    undoable = decisions.latest_undoable(session, user.id)
    session.commit()
    return QueuePage(listing, status, undoable)
