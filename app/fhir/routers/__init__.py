"""The routes of the FHIR facade, one module a resource (the guide's reads of slots and practitioners,
the CapabilityStatement, declared appointments, the bulk publication), each listed in ``main.routers()``
in the order Starlette tries them; what they share is in ``common``."""
