"""SQLAlchemy models, one module per aggregate, re-exported here."""

from models.audit import GENESIS_HASH, AuditEvent
from models.bank import ActionHint, Bank, BankEntry, BankKind, EntryStatus, SignalType
from models.base import Base, utcnow
from models.cluster import Cluster
from models.decision import Decision, DecisionState
from models.platform import Platform, PlatformKind, WebhookDelivery
from models.receipt import PortalReceipt, SealedContact
from models.report import (
    CATEGORY_SEVERITY,
    OPEN_STATUSES,
    Category,
    Media,
    MediaHash,
    MediaKind,
    MediaState,
    Report,
    ReporterKind,
    ReportStatus,
    Signal,
)
from models.review import ExposureDay, MediaReveal, ReviewClaim, ReviewPreferences
from models.signals import (
    BankHit,
    ClusterHit,
    Detection,
    DetectionSummary,
    SignalKind,
    TextField,
    TextHit,
)
from models.user import Invitation, RecoveryCode, Role, User, UserSession

__all__ = [
    "ReporterKind",
    "Category",
    "OPEN_STATUSES",
    "CATEGORY_SEVERITY",
    "TextHit",
    "TextField",
    "SignalKind",
    "DetectionSummary",
    "Detection",
    "ClusterHit",
    "BankHit",
    "GENESIS_HASH",
    "ActionHint",
    "AuditEvent",
    "Bank",
    "BankEntry",
    "BankKind",
    "Base",
    "Cluster",
    "Decision",
    "DecisionState",
    "EntryStatus",
    "ExposureDay",
    "Invitation",
    "Media",
    "MediaHash",
    "MediaKind",
    "MediaReveal",
    "MediaState",
    "Platform",
    "PlatformKind",
    "PortalReceipt",
    "RecoveryCode",
    "Report",
    "ReportStatus",
    "ReviewClaim",
    "ReviewPreferences",
    "Role",
    "SealedContact",
    "Signal",
    "SignalType",
    "User",
    "UserSession",
    "WebhookDelivery",
    "utcnow",
]
