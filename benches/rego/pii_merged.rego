# The column-name rule of the sealgate.pii policy (the same ten patterns, in
# the same order: the first that matches names the category), written with the ten patterns merged into one regex that screens every column first (the known fast path for regorus, whose regex cache hands out clones).
# For the peer comparison in docs/BENCHMARKS.md; generated from
# policies/pii/src/rules.rs.
package sealgate

import rego.v1

pii_rules := [
	{"category": "email", "severity": "high", "pattern": `(^|_)(e_?mail|mail)(_|$)`},
	{"category": "ssn", "severity": "critical", "pattern": `(^|_)(ssn|social_?security(_?(number|no|num|nr))?)(_|$)`},
	{"category": "credit-card", "severity": "critical", "pattern": `(^|_)(credit_?card|card_?(number|num|no|nr)|cc_?(number|num|no)|ccn|pan)(_|$)`},
	{"category": "bank-account", "severity": "critical", "pattern": `(^|_)(iban|bank_?(account|acct)(_?(number|no|num))?|account_?(number|no|num)|routing_?number|bic|swift(_?code)?)(_|$)`},
	{"category": "passport", "severity": "critical", "pattern": `(^|_)passport(_|$)`},
	{"category": "phone", "severity": "high", "pattern": `(^|_)(phone|telephone|tel|mobile_?(number|no|phone)|cell_?phone|msisdn|fax)(_?(number|no|num|nr))?(_|$)`},
	{"category": "person-name", "severity": "high", "pattern": `(^|_)((first|last|middle|full|given|family|maiden|nick|sur|user|customer|person|client|patient|employee)_?name|fname|lname|surname)(_|$)`},
	{"category": "date-of-birth", "severity": "medium", "pattern": `(^|_)(date_?of_?birth|dob|birth_?(date|day)|birthday)(_|$)`},
	{"category": "ip-address", "severity": "medium", "pattern": `(^|_)(ip|ipv4|ipv6|ip_?addr(ess)?|client_?ip|remote_?addr)(_|$)`},
	{"category": "address", "severity": "medium", "pattern": `(^|_)((street|home|postal|mailing|billing|shipping|residential)_?address|address|street|postcode|postal_?code|zip(_?code)?)(_|$)`},
]

# Lowercase words joined by `_`, splitting camelCase: `customerEmail` and
# `Customer-Email` both become `customer_email`.
normalise(name) := trim(regex.replace(lower(regex.replace(name, `([a-z0-9])([A-Z])`, "${1}_${2}")), `[^a-z0-9]+`, "_"), "_")

column_names contains [sprintf("/schema/%s/%d/name", [list, i]), col.name, set()] if {
	some list in ["inputs", "outputs"]
	some i, col in input.schema[list]
}

column_names contains [sprintf("/datasets/%d/columns/%d/name", [d, c]), col.name, declared] if {
	some d, ds in input.datasets
	declared := {n | some n in object.get(ds, "pii_columns", [])}
	some c, col in ds.columns
}

any_pii := `(?:(^|_)(e_?mail|mail)(_|$))|(?:(^|_)(ssn|social_?security(_?(number|no|num|nr))?)(_|$))|(?:(^|_)(credit_?card|card_?(number|num|no|nr)|cc_?(number|num|no)|ccn|pan)(_|$))|(?:(^|_)(iban|bank_?(account|acct)(_?(number|no|num))?|account_?(number|no|num)|routing_?number|bic|swift(_?code)?)(_|$))|(?:(^|_)passport(_|$))|(?:(^|_)(phone|telephone|tel|mobile_?(number|no|phone)|cell_?phone|msisdn|fax)(_?(number|no|num|nr))?(_|$))|(?:(^|_)((first|last|middle|full|given|family|maiden|nick|sur|user|customer|person|client|patient|employee)_?name|fname|lname|surname)(_|$))|(?:(^|_)(date_?of_?birth|dob|birth_?(date|day)|birthday)(_|$))|(?:(^|_)(ip|ipv4|ipv6|ip_?addr(ess)?|client_?ip|remote_?addr)(_|$))|(?:(^|_)((street|home|postal|mailing|billing|shipping|residential)_?address|address|street|postcode|postal_?code|zip(_?code)?)(_|$))`

findings contains f if {
	some [ptr, name, declared] in column_names
	n := normalise(name)
	regex.match(any_pii, n)
	matching := [r | some r in pii_rules; regex.match(r.pattern, n)]
	rule := matching[0]
	f := finding(rule, ptr, name, declared)
}

finding(rule, ptr, name, declared) := {"rule": sprintf("pii.declared.%s", [rule.category]), "pointer": ptr} if name in declared

finding(rule, ptr, name, declared) := {"rule": sprintf("pii.column.%s", [rule.category]), "severity": rule.severity, "pointer": ptr} if not name in declared
