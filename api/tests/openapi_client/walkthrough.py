"""README's walk-through, driven by a client generated from the OpenAPI
document (openapi-python-client), against a running casetrace server.

Run by api/tests/openapi.rs, which starts the server, generates the client
into a temporary folder (the `casetrace_client` package, put on PYTHONPATH)
and passes:

    CASETRACE_URL   the server's base URL (loopback)
    CASETRACE_KEY   the bootstrap key the server printed on its first start
    WELLER_DIR      the folder of the Weller scans

Every step checks what README.md says it does; any mismatch raises, and
the script exits non-zero with the step's name.
"""

import os
import sys

from casetrace_client import AuthenticatedClient, Client
from casetrace_client.api.casings import get_candidates, get_casing, submit_casing
from casetrace_client.api.health import healthz
from casetrace_client.models import (
    CandidateListDto,
    CasingDto,
    CasingKindDto,
    ErrorDto,
    HealthDto,
    SubmissionMetadataDto,
    SubmitCasingBody,
    SubmitResponseDto,
)
from casetrace_client.types import File


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def submit(client, weller, casing_id, **fields):
    path = os.path.join(weller, f"{casing_id}.x3p")
    with open(path, "rb") as f:
        body = SubmitCasingBody(
            image=File(payload=f, file_name=f"{casing_id}.x3p"),
            metadata=SubmissionMetadataDto(casing_id=casing_id, **fields),
        )
        response = submit_casing.sync_detailed(client=client, body=body)
    expect(
        response.status_code == 201,
        f"submit {casing_id}: status {response.status_code}: {response.content[:500]!r}",
    )
    parsed = response.parsed
    expect(isinstance(parsed, SubmitResponseDto), f"submit {casing_id}: {parsed!r}")
    expect(parsed.created, f"submit {casing_id}: created is false")
    expect(parsed.casing.casing_id == casing_id, f"submit {casing_id}: {parsed.casing!r}")
    return parsed


def main():
    url = os.environ["CASETRACE_URL"]
    key = os.environ["CASETRACE_KEY"]
    weller = os.environ["WELLER_DIR"]

    # /healthz needs no key.
    health = healthz.sync(client=Client(base_url=url))
    expect(isinstance(health, HealthDto), f"healthz: {health!r}")
    expect(health.status == "ok", f"healthz: {health!r}")

    # Every other route does: without one, the generated client gets the
    # documented error body.
    anonymous = get_casing.sync_detailed("TW01-01", client=Client(base_url=url))
    expect(anonymous.status_code == 401, f"no key: status {anonymous.status_code}")

    client = AuthenticatedClient(base_url=url, token=key, timeout=120.0)
    first = submit(
        client,
        weller,
        "TW01-01",
        kind=CasingKindDto.EVIDENCE,
        calibre="9mm Luger",
        case_number="2026-0142",
    )
    expect(first.candidates == [], f"first casing: candidates {first.candidates!r}")
    submit(client, weller, "TW02-01", calibre="9mm Luger")
    third = submit(client, weller, "TW01-02", calibre="9mm Luger")
    ranked = [c.casing_id for c in third.candidates]
    expect(ranked == ["TW01-01", "TW02-01"], f"TW01-02's candidates: {ranked}")
    expect(
        third.candidates[0].score > third.candidates[1].score,
        f"scores not best first: {[c.score for c in third.candidates]}",
    )

    casing = get_casing.sync("TW01-01", client=client)
    expect(isinstance(casing, CasingDto), f"get TW01-01: {casing!r}")
    expect(
        (casing.casing_id, casing.agency, casing.case_number, casing.calibre, casing.format_)
        == ("TW01-01", "local", "2026-0142", "9mm Luger", "x3p"),
        f"get TW01-01: {casing!r}",
    )
    expect((casing.width, casing.height) == (561, 563), f"get TW01-01: {casing!r}")

    listed = get_candidates.sync("TW01-01", client=client, limit=5)
    expect(isinstance(listed, CandidateListDto), f"candidates of TW01-01: {listed!r}")
    ids = [c.casing_id for c in listed.candidates]
    expect(ids[0] == "TW01-02", f"candidates of TW01-01: {ids}")
    expect(set(ids) == {"TW01-02", "TW02-01"}, f"candidates of TW01-01: {ids}")

    missing = get_casing.sync("NO-SUCH", client=client)
    expect(isinstance(missing, ErrorDto), f"unknown casing: {missing!r}")
    print("walk-through ok:", ids)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"walk-through failed: {e}", file=sys.stderr)
        sys.exit(1)
