from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.columns import CreatedAt, UUIDPk
from app.platform.database import Base


class Site(Base):
    """Where patients are seen: cabinet, MSP, CSNP, centre de santé."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("kind IN ('cabinet', 'msp', 'csnp', 'centre_sante', 'sos_medecins', 'mmg')", name="kind"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="coordinates"),
        CheckConstraint("finess ~ '^([0-9]{2}|2[AB])[0-9]{7}$'", name="finess"),
        # Referenced by slots (site_id, territory_code): a slot lies in its site's territory.
        UniqueConstraint("id", "territory_code"),
    )

    id: Mapped[UUIDPk]
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(5))
    insee_code: Mapped[str | None] = mapped_column(String(5))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    territory_code: Mapped[str] = mapped_column(ForeignKey("territories.code"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    # The FINESS of the structure the site is (an MSP, a centre de santé…), where it has one: the
    # organization an appointment there names (RS-SAS-RDV ``organization``), never its CPTS's.
    finess: Mapped[str | None] = mapped_column(String(9))
    created_at: Mapped[CreatedAt]
