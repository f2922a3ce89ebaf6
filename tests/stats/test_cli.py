from __future__ import annotations

import asyncio
import csv
import io

from openpyxl import load_workbook
from typer.testing import CliRunner

from app.cli import app as snp
from tests.stats.helpers import CPTS, build_csv, reference
from tests.support.factories import create_cpts


async def invoke(*args: str):
    result = await asyncio.to_thread(CliRunner().invoke, snp, ["stats", "monthly", *args])
    return result


class TestMonthlyCommand:
    async def test_it_prints_the_indre_table_and_writes_csv_xlsx_and_png(
        self, committed_client, auth, database_url, tmp_path
    ):
        admin = auth("admin")
        for code in CPTS:
            await create_cpts(committed_client, admin, code)
        body, _ = build_csv(reference()["published"])
        response = await committed_client.post("/v1/calls/import", content=body.encode(),
                                               headers={**admin, "Content-Type": "text/csv"})
        assert response.status_code == 201, response.text[:500]
        files = {"csv": tmp_path / "indre.csv", "xlsx": tmp_path / "indre.xlsx", "png": tmp_path / "indre.png"}

        result = await invoke("--territory", "36", "--from", "2022-01", "--to", "2022-12",
                              "--database-url", database_url, "--csv", str(files["csv"]),
                              "--xlsx", str(files["xlsx"]), "--png", str(files["png"]))

        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()

        def line(label: str) -> str:
            return next(text for text in lines if label in text)

        assert "17 232" in line("Appels rebasculés vers le SAS ambulatoire")
        assert "7 297" in line("Conseils médicaux") and "42 %" in line("Conseils médicaux")
        assert "6 438" in line("Orientations vers un créneau de SNP") and "37 %" in line("créneau de SNP")
        assert "2 353" in line("Prescriptions transmises") and "14 %" in line("Prescriptions transmises")
        assert "1 444" in line("Autres situations") and "8 %" in line("Autres situations")
        assert "1 436 appels" in line("Moyenne mensuelle")
        assert "2 615" in line("Passages aux urgences évités") and "intention déclarée" in result.output
        assert "janvier 2022" in result.output and "décembre 2022" in result.output

        rows = list(csv.DictReader(io.StringIO(files["csv"].read_text(encoding="utf-8"))))
        assert rows[-1]["month"] == "total" and rows[-1]["calls"] == "17232"
        book = load_workbook(files["xlsx"])
        summary = {row[0]: row[1] for row in book["Synthèse"].iter_rows(values_only=True)}
        assert summary["Appels rebasculés vers le SAS ambulatoire"] == 17232
        assert summary["Conseils médicaux"] == 7297
        assert book["Par mois"].max_row == 14
        assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    async def test_the_coefficients_method_is_named_with_its_parameters(self, committed_client, database_url):
        result = await invoke("--territory", "36", "--from", "2022-01", "--to", "2022-03",
                              "--avoided-ed-method", "coefficients", "--database-url", database_url)
        assert result.exit_code == 0, result.output
        assert "coefficients par décision" in result.output and "créneaux 0,30" in result.output

    async def test_a_bad_period_is_refused_with_the_field(self, committed_client, database_url):
        result = await invoke("--territory", "36", "--from", "2022-05", "--to", "2022-01",
                              "--database-url", database_url)
        assert result.exit_code == 2
        assert "(to)" in result.output


class TestCompactCommand:
    async def test_it_folds_the_pending_writes_and_the_report_stays_the_same(
        self, committed_client, auth, database_url, engine
    ):
        from sqlalchemy import text

        body = "\n".join([
            "external_id,territory_code,channel,received_at,decisions",
            "C-1,36,15,2022-03-01T10:00:00+01:00,advice",
            "C-2,974,15,2022-03-01T10:00:00+04:00,slot",
        ]) + "\n"
        admin = auth("admin")
        response = await committed_client.post("/v1/calls/import", content=body.encode(),
                                               headers={**admin, "Content-Type": "text/csv"})
        assert response.status_code == 201, response.text[:500]
        params = {"territory": "FR", "from": "2022-03", "to": "2022-03"}
        before = (await committed_client.get("/v1/stats/monthly", params=params, headers=admin)).json()
        async with engine.connect() as conn:
            pending = (await conn.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one()
        assert pending > 0
        result = await asyncio.to_thread(CliRunner().invoke, snp, ["stats", "compact", "--database-url",
                                                                   database_url])
        assert result.exit_code == 0, result.output
        assert f"{pending} écritures repliées" in result.output
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one() == 0
        after = (await committed_client.get("/v1/stats/monthly", params=params, headers=admin)).json()
        assert after == before and after["total"]["calls"] == 2


class TestCompactor:
    async def test_the_apps_background_task_folds_the_rollup_until_stopped(self, committed_client, auth, engine):
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import async_sessionmaker

        from app.stats.compactor import start_in_background

        body = "external_id,territory_code,channel,received_at,decisions\nC-9,36,15,2022-03-01T10:00:00+01:00,advice\n"
        response = await committed_client.post("/v1/calls/import", content=body.encode(),
                                               headers={**auth("admin"), "Content-Type": "text/csv"})
        assert response.status_code == 201, response.text[:500]
        stop = start_in_background(async_sessionmaker(engine), interval_seconds=0.05)
        try:
            for _ in range(200):
                async with engine.connect() as conn:
                    pending = (await conn.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one()
                if pending == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            await stop()
        assert pending == 0
        async with engine.connect() as conn:
            folded = (await conn.execute(text("SELECT sum(calls) FROM stats_call_cells"))).scalar_one()
        assert folded == 1

    async def test_a_second_folding_while_one_runs_folds_nothing_and_waits_for_nothing(
        self, committed_client, auth, engine
    ):
        from sqlalchemy import text

        body = "external_id,territory_code,channel,received_at,decisions\nC-7,36,15,2022-03-01T10:00:00+01:00,advice\n"
        response = await committed_client.post("/v1/calls/import", content=body.encode(),
                                               headers={**auth("admin"), "Content-Type": "text/csv"})
        assert response.status_code == 201, response.text[:500]
        async with engine.connect() as first, engine.connect() as second:
            pending = (await first.execute(text("SELECT count(*) FROM stats_call_deltas"))).scalar_one()
            folded_first = (await first.execute(text("SELECT stats_compact()"))).scalar_one()  # still open
            folded_second = await asyncio.wait_for(second.execute(text("SELECT stats_compact()")), 5)
            await first.commit()
            await second.commit()
        assert pending > 0 and folded_first == pending and folded_second.scalar_one() == 0
