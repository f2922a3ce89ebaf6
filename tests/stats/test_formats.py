"""The report for people: a CSV a French spreadsheet opens as it is, an Excel workbook, a chart."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.stats.helpers import insert_call


async def _get(client, auth, fmt):
    return await client.get("/v1/stats/monthly", params={"territory": "36", "from": "2022-05", "to": "2022-06",
                                                          "format": fmt}, headers=auth("analyst", ["36"]))


class TestFormats:
    async def test_csv_for_a_french_spreadsheet(self, client, connection, auth):
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"])
        await insert_call(connection, "2022-05-03T10:00:00+02:00", ["slot", "advice"])
        await insert_call(connection, "2022-05-04T10:00:00+02:00", ["prescription"])
        response = await _get(client, auth, "csv-fr")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.content.startswith("\ufeff".encode())  # the BOM: Excel reads the accents
        lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
        header = lines[0]
        assert header[:3] == ["territoire", "mois", "appels"]
        assert "décisions conseil médical nombre" in header and "décisions conseil médical part" in header
        may = dict(zip(header, lines[1], strict=True))
        assert may["appels"] == "3" and may["décisions conseil médical part"] == "0,6666666666666666"

    async def test_an_excel_workbook_and_a_chart(self, client, connection, auth):
        await insert_call(connection, "2022-05-02T10:00:00+02:00", ["advice"])
        workbook = await _get(client, auth, "xlsx")
        assert workbook.status_code == 200 and "spreadsheetml" in workbook.headers["content-type"]
        book = load_workbook(io.BytesIO(workbook.content))
        assert book.sheetnames == ["Synthèse", "Par mois"]
        assert book["Synthèse"]["B3"].value == 1  # calls
        chart = await _get(client, auth, "png")
        assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG\r\n\x1a\n")

    async def test_an_unknown_format_is_422(self, client, auth):
        response = await _get(client, auth, "pdf")
        assert response.status_code == 422 and response.json()["field"] == "format"
