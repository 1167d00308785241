"""Read a sealgate attestation back in cosign's layout with a client that is
not sealgate's: the Python `oras` package (pinned in requirements.txt).

Given an image by digest, fetch its `sha256-<hex>.att` manifest, check that
every layer is a DSSE envelope whose bytes hash to its digest and whose
statement has the `predicateType` its annotation claims and names the image
as subject, and write each envelope to OUT/<predicate-name>.json. Prints one
JSON line per layer. Exits non-zero on anything unexpected.
"""

import argparse
import base64
import hashlib
import json
import pathlib
import sys

import oras.client

DSSE = "application/vnd.dsse.envelope.v1+json"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--registry", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--repository", required=True)
    p.add_argument("--digest", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    client = oras.client.OrasClient(hostname=a.registry, tls_verify=a.ca, auth_backend="basic")
    client.login(username=a.user, password=a.password, hostname=a.registry)
    hexdigest = a.digest.removeprefix("sha256:")
    target = f"{a.registry}/{a.repository}:sha256-{hexdigest}.att"
    manifest = client.get_manifest(target)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    container = client.get_container(target)
    for layer in manifest["layers"]:
        if layer["mediaType"] != DSSE:
            sys.exit(f"layer {layer['digest']} is {layer['mediaType']}, not {DSSE}")
        blob = client.get_blob(container, layer["digest"]).content
        if "sha256:" + hashlib.sha256(blob).hexdigest() != layer["digest"]:
            sys.exit(f"layer {layer['digest']} does not hash to its digest")
        envelope = json.loads(blob)
        statement = json.loads(base64.b64decode(envelope["payload"]))
        claimed = layer["annotations"]["predicateType"]
        if statement["predicateType"] != claimed:
            sys.exit(f"layer {layer['digest']}: annotated {claimed}, statement says {statement['predicateType']}")
        subjects = [s["digest"].get("sha256") for s in statement["subject"]]
        if hexdigest not in subjects:
            sys.exit(f"layer {layer['digest']}: about {subjects}, not the image")
        name = claimed.rstrip("/").split("/")[-2]
        (out / f"{name}.json").write_bytes(blob)
        print(json.dumps({"digest": layer["digest"], "predicateType": claimed, "payloadType": envelope["payloadType"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
