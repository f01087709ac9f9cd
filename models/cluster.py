"""Clusters: reports whose media match each other, decided once rather than once per re-share."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Cluster(Base):
    """A set of reports of the same content. Reports point here by `Report.cluster_id`.

    When one media links two clusters they merge into the one with the smallest id; the others
    stay as rows with `merged_into_id` set, so an id a platform saw earlier still resolves.
    """

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_count: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
