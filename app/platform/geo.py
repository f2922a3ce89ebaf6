"""Distances on the Earth, written once for every statement that measures one."""

from __future__ import annotations

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LAT = 111.045


def haversine_km(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    """The great-circle distance in km between two points given as SQL expressions (degrees)."""
    return (f"(2 * {EARTH_RADIUS_KM} * asin(least(1.0, sqrt("
            f"power(sin(radians({lat2} - {lat1}) / 2), 2) + "
            f"cos(radians({lat1})) * cos(radians({lat2})) * power(sin(radians({lon2} - {lon1}) / 2), 2)))))")
