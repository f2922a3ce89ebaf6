from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as snp
from app.slots.cli import CsvError, chunks, read_csv
from tests.slots.helpers import at, calendar, doctor, monday_in
from tests.support.database import TEST_SECRET
from tests.support.processes import served_app


def write_csv(path: Path, site_id: str, count: int, delimiter: str = ",") -> Path:
    lines = [delimiter.join(["site_id", "start", "end", "mode"])]
    for i in range(count):
        start = at(2, hour=6) + dt.timedelta(minutes=15 * i)
        lines.append(delimiter.join([site_id, start.isoformat(), (start + dt.timedelta(minutes=15)).isoformat(),
                                     "in_person"]))
    path.write_text("\n".join(lines) + "\n")
    return path


class TestCsvParsing:
    def test_comma_or_semicolon_files_give_items_with_a_stable_source_key(self, tmp_path):
        for delimiter in (",", ";"):
            items = read_csv(write_csv(tmp_path / "s.csv", "site-1", 3, delimiter))
            assert len(items) == 3 and items[0]["site_id"] == "site-1" and items[0]["mode"] == "in_person"
            assert items[0]["source_key"] == f"csv:site-1|{items[0]['start']}|{items[0]['end']}"

    def test_a_missing_column_is_named(self, tmp_path):
        path = tmp_path / "bad.csv"
        path.write_text("site_id,start,mode\nx,y,z\n")
        with pytest.raises(CsvError, match="end"):
            read_csv(path)

    def test_chunks_cover_every_item_once_in_order(self):
        items = [{"n": i} for i in range(2501)]
        parts = list(chunks(items, 1000))
        assert [o for o, _ in parts] == [0, 1000, 2000] and sum(len(p) for _, p in parts) == 2501


class TestCommandsAgainstAServedApp:
    async def test_publish_and_import_ics_end_to_end(self, committed_client, auth, database_url, tmp_path):
        doc = await doctor(committed_client, auth)
        token = doc.headers["Authorization"].removeprefix("Bearer ")
        csv_file = write_csv(tmp_path / "slots.csv", doc.site_id, 25)
        ics_file = tmp_path / "agenda.ics"
        ics_file.write_text(calendar(monday_in(1)))
        runner = CliRunner()
        with served_app(database_url, workers=1, extra_env={"SNP_JWT_SECRET": TEST_SECRET}) as base:
            common = ["--api", base, "--token", token]
            first = runner.invoke(snp, ["slots", "publish", "--csv", str(csv_file), "--chunk", "10", *common])
            assert first.exit_code == 0, first.output
            assert "25" in first.output
            again = runner.invoke(snp, ["slots", "publish", "--csv", str(csv_file), *common])
            assert again.exit_code == 0 and "déjà présents" in again.output
            ics = runner.invoke(snp, ["slots", "import-ics", str(ics_file), "--site", doc.site_id, *common])
            assert ics.exit_code == 0, ics.output
            overlap = write_csv(tmp_path / "overlap.csv", doc.site_id, 1)
            overlap.write_text(overlap.read_text().replace(":00+00:00,", ":05+00:00,", 1))
            refused = runner.invoke(snp, ["slots", "publish", "--csv", str(overlap), *common])
            assert refused.exit_code == 1
        mine = (await committed_client.get("/v1/slots?limit=1000", headers=doc.headers)).json()
        assert len(mine) == 25 + 5
