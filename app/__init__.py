"""SNP: unplanned care (soins non programmés) inside the Service d'Accès aux Soins."""

from starlette.convertors import UUIDConvertor, register_url_convertor


class _AnyCaseUUID(UUIDConvertor):
    """Identifiers in paths (``{call_id:uuid}``): a path that is no UUID matches no route, so
    ``/v1/calls/import`` never reads as a call; upper-case UUIDs are UUIDs too."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


# Before any router is built (they compile their paths when their module is imported).
register_url_convertor("uuid", _AnyCaseUUID())
