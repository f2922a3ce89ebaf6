"""Self-referral by a signed link (QR code): a patient leaves his phone, a waiting call appears."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from app.calls import self_referral
from app.identity import crypto
from tests.support.instances import client_of, instance


async def _link(client, auth, territory="36", **body):
    response = await client.post("/v1/referral-links", json={"territory_code": territory, **body},
                                 headers=auth("operator", ["36"]))
    return response


class TestSelfReferral:
    async def test_a_patient_of_the_link_waits_in_the_queue(self, client, auth, connection):
        link = await _link(client, auth, days=30)
        assert link.status_code == 201, link.text
        body = link.json()
        assert body["path"] == "/v1/self-referrals/" + body["token"] and len(body["token"]) < 40
        answer = await client.post(body["path"], json={"phone": "06 12 34 56 78", "reason": "mal de gorge"})
        assert answer.status_code == 201, answer.text
        assert answer.json() == {"status": "received", "territory_code": "36", "callback_within_minutes": 180}
        call = (await connection.execute(text(
            "SELECT channel, referrer_kind, status, patient_phone, created_by FROM calls"))).one()
        assert (*call[:3], crypto.ring().open(call[3], "patient_phone"), call[4]) == (
            "autre", "self", "waiting", "0612345678", "self-referral")
        queue = await client.get("/v1/calls", params={"status": "waiting"}, headers=auth("operator", ["36"]))
        assert [c["referrer_kind"] for c in queue.json()] == ["self"]

    async def test_an_altered_an_expired_or_a_foreign_link_is_refused(self, client, auth, settings):
        token = (await _link(client, auth)).json()["token"]
        territory, expires, mac = token.split(".")
        for forged in (f"18.{expires}.{mac}", f"{territory}.{expires}.{mac[::-1]}", "nonsense"):
            response = await client.post(f"/v1/self-referrals/{forged}", json={"phone": "0612345678"})
            assert response.status_code == 404, (forged, response.text)
        past = self_referral.sign(settings.jwt_secret, "36", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        assert (await client.post(f"/v1/self-referrals/{past}", json={"phone": "0612345678"})).status_code == 404
        assert (await _link(client, auth, territory="18")).status_code == 404
        no_phone = await client.post(f"/v1/self-referrals/{token}", json={"reason": "x"})
        assert no_phone.status_code == 422 and no_phone.json()["field"] == "phone"
        assert (await client.post("/v1/referral-links", json={"territory_code": "36"},
                                  headers=auth("urgences", ["36"]))).status_code == 403

    async def test_an_address_is_limited(self, committed_app, settings, engine, auth):
        application = instance(settings, engine, self_referral=3)
        async with client_of(application) as client:
            token = (await client.post("/v1/referral-links", json={"territory_code": "36"},
                                       headers=auth("operator", ["36"]))).json()["token"]
            # a made-up bearer token on each request buys no fresh budget: the route is public, keyed by address
            statuses = [(await client.post(f"/v1/self-referrals/{token}", json={"phone": "0612345678"},
                                           headers={"Authorization": f"Bearer made-up-{n}"})).status_code
                        for n in range(4)]
        assert statuses == [201, 201, 201, 429]
