"""The HTTP edge every request crosses: limits, trusted proxies, rate budgets, deadlines, metrics, error
rendering, the contract's post-processing and the FastAPI dependencies. It imports only the platform."""

from starlette.convertors import UUIDConvertor, register_url_convertor


class _AnyCaseUUID(UUIDConvertor):
    """Identifiers in paths (``{call_id:uuid}``): a path that is no UUID matches no route, so
    ``/v1/calls/import`` never reads as a call; upper-case UUIDs are UUIDs too."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


# Here, before any router is built: every router imports the edge before it compiles its paths (when
# its module is imported), and so does the route-policy table.
register_url_convertor("uuid", _AnyCaseUUID())
