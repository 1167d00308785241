# The encryption (S3) and lineage rules of the sealgate.encryption and
# sealgate.lineage policies, written as an OPA user would write them, for the
# peer comparison in docs/BENCHMARKS.md. Evaluated with regorus; `input` is
# a sealgate metadata document. Rule ids are the policies' own.
package sealgate

import rego.v1

# ---- encryption (S3 API documents under storage[i].raw) ----

allowed_algorithms := {"aws:kms", "aws:kms:dsse", "AES256"}

protected := {"confidential", "restricted", "secret"}

sse_default(s) := r.ApplyServerSideEncryptionByDefault if {
	some r in s.raw.ServerSideEncryptionConfiguration.Rules
}

findings contains f if {
	count(object.get(input, "storage", [])) == 0
	f := {"rule": "encryption.storage.missing", "pointer": "/storage"}
}

findings contains f if {
	some i, s in input.storage
	not sse_default(s)
	not s.encryption.at_rest
	f := {"rule": "encryption.at-rest.missing", "pointer": sprintf("/storage/%d", [i])}
}

findings contains f if {
	some i, s in input.storage
	d := sse_default(s)
	not d.SSEAlgorithm in allowed_algorithms
	f := {"rule": "encryption.at-rest.algorithm-not-allowed", "pointer": sprintf("/storage/%d/raw/ServerSideEncryptionConfiguration", [i])}
}

customer_key(d) if {
	startswith(d.SSEAlgorithm, "aws:kms")
	key := d.KMSMasterKeyID
	key != ""
	not endswith(key, "alias/aws/s3")
}

findings contains f if {
	some i, s in input.storage
	object.get(s, "classification", object.get(input.artifact, "classification", "")) in protected
	d := sse_default(s)
	not customer_key(d)
	f := {"rule": "encryption.at-rest.customer-key-missing", "pointer": sprintf("/storage/%d/raw/ServerSideEncryptionConfiguration", [i])}
}

denies_insecure_transport(s) if {
	some st in s.raw.Policy.Statement
	st.Effect == "Deny"
	st.Principal in {"*", {"AWS": "*"}}
	st.Action in {"s3:*", ["s3:*"]}
	st.Condition.Bool["aws:SecureTransport"] in {"false", false}
}

findings contains f if {
	some i, s in input.storage
	s.provider == "s3"
	not denies_insecure_transport(s)
	not s.encryption.in_transit.required
	f := {"rule": "encryption.in-transit.not-required", "pointer": sprintf("/storage/%d", [i])}
}

pab_flags := ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"]

findings contains f if {
	some i, s in input.storage
	s.provider == "s3"
	some flag in pab_flags
	not s.raw.PublicAccessBlockConfiguration[flag] == true
	f := {"rule": "encryption.public-access.not-blocked", "pointer": sprintf("/storage/%d/raw/PublicAccessBlockConfiguration/%s", [i, flag])}
}

# ---- lineage ----

full_commit(c) if regex.match(`^([0-9a-f]{40}|[0-9a-f]{64})$`, c)

content_hash(h) := h.md5 if regex.match(`^[0-9a-f]{32}$`, h.md5)

content_hash(h) := h.sha256 if regex.match(`^[0-9a-f]{64}$`, h.sha256)

findings contains f if {
	not input.lineage.code.commit
	f := {"rule": "lineage.code.missing", "pointer": "/lineage/code"}
}

findings contains f if {
	c := input.lineage.code.commit
	not full_commit(c)
	f := {"rule": "lineage.code.not-pinned", "pointer": "/lineage/code/commit"}
}

findings contains f if {
	count(object.get(input.lineage, "inputs", [])) == 0
	f := {"rule": "lineage.input.missing", "pointer": "/lineage/inputs"}
}

findings contains f if {
	some i, inp in input.lineage.inputs
	not content_hash(object.get(inp, "hash", {}))
	f := {"rule": "lineage.input.unhashed", "pointer": sprintf("/lineage/inputs/%d", [i])}
}

findings contains f if {
	object.get(input.lineage, ["run", "id"], "") == ""
	f := {"rule": "lineage.run.missing", "pointer": "/lineage/run"}
}

findings contains f if {
	input.lineage.run.id != ""
	not upper(object.get(input.lineage.run, "status", "")) in {"FINISHED", "COMPLETE", "COMPLETED"}
	f := {"rule": "lineage.run.unfinished", "pointer": "/lineage/run/status"}
}

findings contains f if {
	count(object.get(input.lineage, "parameters", {})) == 0
	f := {"rule": "lineage.parameters.missing", "pointer": "/lineage/parameters"}
}

findings contains f if {
	image := input.lineage.environment.image
	not regex.match(`@sha256:[0-9a-f]{64}$`, image)
	f := {"rule": "lineage.image.not-pinned", "pointer": "/lineage/environment/image"}
}

# Every (path, hash, pointer) the document records, from DVC stages, lineage
# inputs and datasets; two hashes for one path are inconsistent.
recorded contains [f.path, f.md5, sprintf("/lineage/pipeline/stages/%d/%s/%d", [s, kind, j])] if {
	some s, stage in input.lineage.pipeline.stages
	some kind in ["deps", "outs"]
	some j, f in stage[kind]
	regex.match(`^[0-9a-f]{32}$`, f.md5)
}

recorded contains [inp.uri, h, sprintf("/lineage/inputs/%d", [i])] if {
	some i, inp in input.lineage.inputs
	h := content_hash(inp.hash)
}

recorded contains [ds.path, h, sprintf("/datasets/%d", [i])] if {
	some i, ds in input.datasets
	h := content_hash(ds.hash)
}

# A path with two hashes makes the set of (path, hash) pairs larger than
# the set of paths: a linear test first, the pairwise search only if it fails.
inconsistent if count({[p, h] | some [p, h, _] in recorded}) != count({p | some [p, _, _] in recorded})

findings contains f if {
	inconsistent
	some [path, h1, _] in recorded
	some [other, h2, ptr] in recorded
	other == path
	h1 != h2
	f := {"rule": "lineage.hash.inconsistent", "pointer": ptr}
}
