"""``snp keys rotate``: seal every patient identity again under the current key (SNP_IDENTITY_KEY_ID)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from app.identity.crypto import IdentityKeyError, keyring_of
from app.identity.sealing import seal_all
from app.platform.config import get_settings

NAME = "keys"
cli = typer.Typer(help="Clés de chiffrement de l'identité des patients", no_args_is_help=True)
console = Console()


async def _rotate() -> dict[str, int]:
    from app.platform.database import command_session

    ring = keyring_of(get_settings())
    async with command_session() as session:
        connection = await session.connection()
        return await connection.run_sync(seal_all, ring)


@cli.command("rotate")
def rotate() -> None:
    """After adding a key to SNP_IDENTITY_KEYS and naming it in SNP_IDENTITY_KEY_ID (the old keys stay
    listed until this has run): every call's identity, every booking event's copy and every observation
    of the regulation, sealed again under it; the hashes recomputed. Safe to run again; one transaction."""
    try:
        changed = asyncio.run(_rotate())
    except IdentityKeyError as exc:
        console.print(f"[red]{exc}[/red]: keep every key still in use in SNP_IDENTITY_KEYS")
        raise typer.Exit(1) from exc
    console.print(f"clé {get_settings().identity_key_id} : {changed['calls']} appel(s), "
                  f"{changed['events']} événement(s), {changed['observations']} observation(s), "
                  f"{changed['prescriptions']} prescription(s) scellés à nouveau")
