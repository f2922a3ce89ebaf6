"""The national platform's regulator accounts (the guide's INT_R02, FrPractitionerRegul): created by POST,
updated (or created) by the conditional PUT, disabled by ``active: false``, read back at their Location —
the guide's own four examples posted as the platform would and compared element by element."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.practitioner import Practitioner
from sqlalchemy import text

from tests.support.factories import create_practitioner, new_rpps

GUIDE = Path(__file__).parent / "guide"
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
INTRN = "urn:oid:1.2.250.1.213.3.6"


def example(n: int) -> dict[str, Any]:
    return json.loads((GUIDE / f"Practitioner-ExamplePractitionerRegul{n}.json").read_text(encoding="utf-8"))


def posted(n: int) -> dict[str, Any]:
    """The example as the platform sends it: without the guide's own id."""
    body = example(n)
    del body["id"]
    return body


@pytest.fixture
def territories(app: Any) -> list[str]:
    app.state.settings = app.state.settings.model_copy(update={"ptf_sas_regulator_territories": ["36"]})
    return ["36"]


@pytest.fixture
def platform(auth) -> dict[str, str]:
    return auth("platform", [])


def _outcome(response: Any, status: int, expression: str) -> OperationOutcome:
    assert response.status_code == status, response.text
    outcome = OperationOutcome.model_validate(response.json())
    assert outcome.issue[0].expression == [expression], response.text
    return outcome


async def _user(connection, user_id: str) -> Any:
    return (await connection.execute(text(
        "SELECT role, provisioned_by, national_id, sas_technical_id, rpps, territories, active, email, display_name, "
        "family_name, given_name, subject FROM users WHERE id = :id"), {"id": user_id})).mappings().one()


def _same_as_guide(ours: dict[str, Any], guide: dict[str, Any]) -> None:
    """Element by element, the id aside (ours is the account's)."""
    mine, theirs = Practitioner.model_validate(ours), Practitioner.model_validate(guide)
    assert mine.meta.source == theirs.meta.source
    assert mine.meta.profile == theirs.meta.profile
    assert [(i.system, i.value, [(c.system, c.code) for c in i.type.coding]) for i in mine.identifier] == \
        [(i.system, i.value, [(c.system, c.code) for c in i.type.coding]) for i in theirs.identifier]
    assert mine.active == theirs.active
    assert [(n.family, n.given) for n in mine.name] == [(n.family, n.given) for n in theirs.name]
    assert [(t.system, t.value) for t in mine.telecom] == [(t.system, t.value) for t in theirs.telecom]
    assert set(ours) == set(guide)


class TestThePlatformCreatesRegulatorAccounts:
    @pytest.mark.parametrize("n", [1, 2, 4])
    async def test_each_example_of_the_guide_is_created_and_read_back_at_its_location(
        self, client, connection, platform, territories, n
    ) -> None:
        made = await client.post("/fhir/Practitioner", json=posted(n), headers=platform)
        assert made.status_code == 201, made.text
        assert made.headers["content-type"].startswith("application/fhir+json")
        user_id = made.json()["id"]
        assert made.headers["location"].endswith(f"/fhir/Practitioner/{user_id}")
        _same_as_guide(made.json(), example(n))
        path = made.headers["location"].split("://", 1)[1].split("/", 1)[1]
        read = await client.get("/" + path, headers=platform)
        assert read.status_code == 200, read.text
        _same_as_guide(read.json(), example(n))
        row = await _user(connection, user_id)
        given = example(n)["identifier"][0]["value"]
        assert (row["role"], row["provisioned_by"], row["territories"], row["active"]) == \
            ("regulator", "ptf-sas", territories, True)
        assert (row["national_id"] if n != 4 else row["sas_technical_id"]) == given  # as given, any form
        assert row["rpps"] == ("10002673899" if n == 2 else None)  # 8 + 11 digits only
        assert row["display_name"] == f"{example(n)['name'][0]['given'][0]} {example(n)['name'][0]['family']}"
        audited = (await connection.execute(text(
            "SELECT actor_role, detail FROM audit_log WHERE action = 'user.provisioned' "
            "AND detail->>'user_id' = :id"), {"id": user_id})).all()
        assert [(a.actor_role, a.detail["by"]) for a in audited] == [("platform", "ptf-sas")]

    async def test_a_creation_sent_again_updates_the_same_account(self, client, platform, territories) -> None:
        first = await client.post("/fhir/Practitioner", json=posted(2), headers=platform)
        renamed = posted(2)
        renamed["telecom"][0]["value"] = "jules.marius@samu36.fr"
        again = await client.post("/fhir/Practitioner", json=renamed, headers=platform)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["location"] == first.headers["location"]
        assert again.json()["telecom"] == [{"system": "email", "value": "jules.marius@samu36.fr"}]

    async def test_the_guides_media_type_is_taken(self, client, platform, territories) -> None:
        made = await client.post("/fhir/Practitioner", content=json.dumps(posted(1)).encode(), headers={
            **platform, "Content-Type": "application/json+fhir; charset=utf-8", "Accept": "application/json+fhir"})
        assert made.status_code == 201, made.text

    async def test_a_regulator_is_never_found_as_a_practitioner_publishing_slots(
        self, client, auth, platform, territories
    ) -> None:
        await client.post("/fhir/Practitioner", json=posted(2), headers=platform)
        found = await client.get("/fhir/Practitioner", params={"identifier": f"{IDNPS}|810002673899"},
                                 headers=platform)
        assert found.status_code == 200 and found.json()["total"] == 0
        made = await client.post("/fhir/Practitioner", json=posted(4), headers=platform)
        # Read back by the platform and an administrator only: to a regulator it is no practitioner of ours.
        location = f"/fhir/Practitioner/{made.json()['id']}"
        assert (await client.get(location, headers=auth("regulator"))).status_code == 404
        assert (await client.get(location, headers=auth("admin", []))).status_code == 200

    async def test_metadata_declares_the_creation_and_the_conditional_update(self, client) -> None:
        statement = (await client.get("/fhir/metadata")).json()
        practitioner = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Practitioner")
        assert {"create", "update", "read", "search-type"} <= {i["code"] for i in practitioner["interaction"]}
        assert practitioner["conditionalUpdate"] is True and practitioner["updateCreate"] is True
        assert practitioner["supportedProfile"] == [example(1)["meta"]["profile"][0]]
        assert statement["instantiates"][-1].endswith("/CapabilityStatement/SAS-GestionnaireStructure")


class TestTheConditionalUpdate:
    async def test_an_account_known_by_its_technical_id_gains_its_national_id(
        self, client, connection, platform, territories
    ) -> None:
        known = posted(4)
        made = await client.post("/fhir/Practitioner", json=known, headers=platform)
        # The guide's FAQ: the platform PUTs by the technical id a body naming the national id alone.
        technical = known["identifier"][0]["value"]
        attached = await client.put("/fhir/Practitioner", params={"identifier": f"{INTRN}|{technical}"},
                                    json=posted(2), headers=platform)
        assert attached.status_code == 200, attached.text
        assert attached.headers["location"] == made.headers["location"]
        row = await _user(connection, made.json()["id"])
        assert (row["national_id"], row["sas_technical_id"], row["rpps"]) == \
            ("810002673899", known["identifier"][0]["value"], "10002673899")
        assert (row["family_name"], row["given_name"], row["email"]) == ("MARIUS", "Jules", "jules.marius@test.com")
        # Both ids now, the technical one kept: it names what was declared before.
        assert [i["code"] for i in (x["type"]["coding"][0] for x in attached.json()["identifier"])] == \
            ["IDNPS", "INTRN"]

    async def test_the_guides_capitalised_parameter_and_active_false_disable_the_account(
        self, client, connection, auth, platform, territories
    ) -> None:
        made = await client.post("/fhir/Practitioner", json=posted(2), headers=platform)
        user_id = made.json()["id"]
        # An administrator gives him another territory; the platform's updates never touch it.
        moved = await client.patch(f"/v1/users/{user_id}", json={"territories": ["18"]}, headers=auth("admin", []))
        assert moved.status_code == 200, moved.text
        withdrawn = await client.put("/fhir/Practitioner", params={"Identifier": f"{IDNPS}|810002673899"},
                                     json=posted(3), headers=platform)
        assert withdrawn.status_code == 200, withdrawn.text
        _same_as_guide(withdrawn.json(), example(3))
        row = await _user(connection, user_id)
        assert (row["active"], row["territories"], row["role"]) == (False, ["18"], "regulator")
        back = await client.put("/fhir/Practitioner", params={"identifier": f"{IDNPS}|810002673899"},
                                json=posted(2), headers=platform)
        assert back.status_code == 200 and back.json()["active"] is True

    async def test_an_unknown_account_is_created(self, client, platform, territories) -> None:
        made = await client.put("/fhir/Practitioner", params={"identifier": f"{IDNPS}|3456780581/11242343"},
                                json=posted(1), headers=platform)
        assert made.status_code == 201, made.text
        assert made.headers["location"].endswith(f"/fhir/Practitioner/{made.json()['id']}")

    async def test_several_accounts_named_by_the_identifier_are_412(self, client, auth, platform) -> None:
        admin, rpps = auth("admin", []), new_rpps()
        for user in ({"subject": "a", "national_id": "8" + rpps}, {"subject": "b", "rpps": rpps}):
            created = await client.post("/v1/users", json={**user, "display_name": "x", "role": "regulator"},
                                        headers=admin)
            assert created.status_code == 201, created.text
        both = await client.put("/fhir/Practitioner", params={"identifier": f"{IDNPS}|8{rpps}"},
                                json=posted(2), headers=platform)
        _outcome(both, 412, "identifier")

    @pytest.mark.parametrize(("params", "expression"), [
        ({"identifier": "urn:oid:1.2.3|810002673899"}, "identifier"),
        ({"identifier": "810002673899"}, "identifier"),
        ({"identifier": f"{INTRN}|not-a-uuid"}, "identifier"),
        ({}, "identifier"),
        ({"identifier": f"{IDNPS}|810002673899", "Identifier": f"{IDNPS}|810002673899"}, "identifier"),
    ])
    async def test_a_bad_identifier_parameter_is_400_naming_it(self, client, platform, params, expression) -> None:
        _outcome(await client.put("/fhir/Practitioner", params=params, json=posted(2), headers=platform), 400,
                 expression)


class TestAccountsRegisteredHere:
    async def test_the_platform_completes_a_regulator_registered_here_but_never_his_rights(
        self, client, connection, auth, platform, territories
    ) -> None:
        admin, rpps = auth("admin", []), new_rpps()
        local = await client.post("/v1/users", json={"subject": "psc-1", "rpps": rpps, "role": "regulator",
                                                     "display_name": "Dr Marius", "territories": ["18"]}, headers=admin)
        assert local.status_code == 201, local.text
        marius, withdrawn = posted(2), posted(3)
        marius["identifier"][0]["value"] = withdrawn["identifier"][0]["value"] = "8" + rpps
        found = await client.post("/fhir/Practitioner", json=marius, headers=platform)
        assert found.status_code == 200, found.text  # the same person: his RPPS is the national id's
        assert found.json()["id"] == local.json()["id"]
        row = await _user(connection, local.json()["id"])
        assert (row["national_id"], row["provisioned_by"], row["territories"], row["display_name"],
                row["family_name"], row["subject"]) == ("8" + rpps, None, ["18"], "Dr Marius", "MARIUS", "psc-1")
        # Withdrawn by the platform: disabled; enabled again by an administrator only.
        await client.put("/fhir/Practitioner", params={"identifier": f"{IDNPS}|8{rpps}"}, json=withdrawn,
                         headers=platform)
        assert (await _user(connection, local.json()["id"]))["active"] is False
        again = await client.put("/fhir/Practitioner", params={"identifier": f"{IDNPS}|8{rpps}"},
                                 json=marius, headers=platform)
        assert again.status_code == 200 and again.json()["active"] is False

    async def test_an_account_of_another_role_is_a_conflict_never_a_regulator(
        self, client, connection, auth, platform, territories
    ) -> None:
        admin = auth("admin", [])
        doctor = await create_practitioner(client, admin, ["36"])
        effector = await client.post("/v1/users", json={"rpps": doctor["rpps"], "display_name": "Dr E",
                                                        "role": "effector"}, headers=admin)
        assert effector.status_code == 201, effector.text
        body = posted(2)
        body["identifier"][0]["value"] = "8" + doctor["rpps"]
        outcome = _outcome(await client.post("/fhir/Practitioner", json=body, headers=platform), 409, "identifier")
        assert "effector" in outcome.issue[0].diagnostics
        assert (await _user(connection, effector.json()["id"]))["role"] == "effector"

    async def test_identifiers_naming_two_accounts_are_a_conflict(self, client, platform, territories) -> None:
        await client.post("/fhir/Practitioner", json=posted(2), headers=platform)
        await client.post("/fhir/Practitioner", json=posted(4), headers=platform)
        both = posted(2)
        both["identifier"].append(posted(4)["identifier"][0])
        _outcome(await client.post("/fhir/Practitioner", json=both, headers=platform), 409, "identifier")


def _broken(change) -> dict[str, Any]:  # noqa: ANN001 - a function of the body
    body = copy.deepcopy(posted(1))
    change(body)
    return body


class TestTheProfileIsChecked:
    @pytest.mark.parametrize(("body", "expression"), [
        (_broken(lambda b: b.pop("active")), "active"),
        (_broken(lambda b: b.pop("identifier")), "identifier"),
        (_broken(lambda b: b["identifier"][0].update(system="urn:oid:1.2.3")), "identifier.0.system"),
        (_broken(lambda b: b["identifier"][0].pop("value")), "identifier.0.value"),
        (_broken(lambda b: b["identifier"][0].update(system=INTRN)), "identifier.0.type"),
        (_broken(lambda b: b["identifier"][0].update(
            system=INTRN, type={"coding": [{"code": "INTRN"}]})), "identifier.0.value"),  # not a UUID
        (_broken(lambda b: b["identifier"].append(b["identifier"][0])), "identifier.1"),
        (_broken(lambda b: b["name"][0].pop("family")), "name.0.family"),
        (_broken(lambda b: b["name"][0].update(given=[])), "name.0.given"),
        (_broken(lambda b: b["telecom"][0].update(system="phone")), "telecom.0.system"),
        (_broken(lambda b: b["telecom"][0].update(value="nobody")), "telecom.0.value"),
        (_broken(lambda b: b["meta"].update(source="urn:oid:1.2.3")), "meta.source"),
        (_broken(lambda b: b.update(resourceType="Patient")), "resourceType"),
        (_broken(lambda b: b["name"][0].update(given=["a" * 101])), "name.0.given.0"),
        (_broken(lambda b: b["name"][0].update(given=["Jean\u0000"])), "name.0.given"),
        (_broken(lambda b: b["name"][0].update(given=["g" * 100], family="f" * 100)), "name.0"),
        (_broken(lambda b: b["identifier"][0].update(value="3456780581/11242343\n")), "identifier.0.value"),
    ])
    async def test_a_body_the_profile_refuses_is_422_naming_the_element(
        self, client, platform, territories, body, expression
    ) -> None:
        _outcome(await client.post("/fhir/Practitioner", json=body, headers=platform), 422, expression)


class TestWhatAHostileRunFound:
    @pytest.mark.parametrize("spelling", [str.upper, lambda u: "{" + u + "}", lambda u: u.replace("-", ""),
                                          lambda u: "urn:uuid:" + u])
    async def test_one_technical_id_is_one_account_whatever_its_spelling(
        self, client, platform, territories, spelling
    ) -> None:
        import uuid as _uuid

        technical = str(_uuid.uuid4())
        body = posted(4)
        body["identifier"][0]["value"] = technical
        made = await client.post("/fhir/Practitioner", json=body, headers=platform)
        assert made.status_code == 201, made.text
        again = copy.deepcopy(body)
        again["identifier"][0]["value"] = spelling(technical)
        if spelling is str.upper:  # the same UUID in capitals: the same account
            same = await client.post("/fhir/Practitioner", json=again, headers=platform)
            assert (same.status_code, same.json()["id"]) == (200, made.json()["id"]), same.text
            found = await client.put("/fhir/Practitioner", params={"identifier": f"{INTRN}|{technical.upper()}"},
                                     json=again, headers=platform)
            assert (found.status_code, found.json()["id"]) == (200, made.json()["id"]), found.text
        else:  # another spelling of a UUID is refused, never a second account
            _outcome(await client.post("/fhir/Practitioner", json=again, headers=platform), 422,
                     "identifier.0.value")

    async def test_a_corrected_national_id_unbinds_whoever_signed_in_under_the_old_one(
        self, client, connection, platform, territories
    ) -> None:
        import uuid as _uuid

        technical, wrong, right = str(_uuid.uuid4()), "8" + new_rpps(), "8" + new_rpps()
        body = posted(4)
        body["identifier"] = [
            {"type": {"coding": [{"system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203", "code": "IDNPS"}]},
             "system": IDNPS, "value": wrong},
            body["identifier"][0] | {"value": technical}]
        made = await client.post("/fhir/Practitioner", json=body, headers=platform)
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        # Someone signed in under the wrong id: his subject bound, the terms accepted, a session from the platform.
        await connection.execute(text(
            "UPDATE users SET subject = 'f:the-wrong-person', terms_version = 'v', terms_accepted_at = now() "
            "WHERE id = :id"), {"id": user_id})
        await connection.execute(text(
            "INSERT INTO platform_sessions (token_digest, user_id, expires_at) VALUES ('\\x01', :id, "
            "now() + interval '1 hour')"), {"id": user_id})
        await connection.commit()
        corrected = copy.deepcopy(body)
        corrected["identifier"][0]["value"] = right
        put = await client.put("/fhir/Practitioner", params={"identifier": f"{INTRN}|{technical}"}, json=corrected,
                               headers=platform)
        assert put.status_code == 200, put.text
        row = (await connection.execute(text(
            "SELECT national_id, subject, terms_version FROM users WHERE id = :id"), {"id": user_id})).one()
        assert tuple(row) == (right, None, None)
        sessions = await connection.scalar(text("SELECT count(*) FROM platform_sessions WHERE user_id = :id"),
                                           {"id": user_id})
        assert sessions == 0
