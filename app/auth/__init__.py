"""Bearer JWT authentication and role checks.

Development tokens are HS256 signed with ``SNP_JWT_SECRET`` (``snp token``) and carry their rights:
``sub``, ``role``, ``territories`` (codes), ``practitioner_id`` (effectors), ``referrer_kind``.

With an identity provider (Pro Santé Connect, ``SNP_OIDC_*``), its tokens are verified against its
published keys and prove only who the user is — the subject, and the RPPS of the national id PSC puts
in ``SubjectNameID`` / ``preferred_username``. The rights come from the users registry
(``app/users``), never from claims the provider does not set; an identity not registered (or
disabled) is refused. Development tokens keep working beside the provider when ``SNP_ENV=development``.
"""
