//! Column-name rules, after OpenMetadata's column name scanner, in two tiers:
//! `sensitive` data identifies a person on its own (e-mail, phone, names,
//! government and financial identifiers); `non-sensitive` data identifies in
//! combination (birth date, address, IP address).

use sealgate_policy_sdk::Severity;
use serde::Deserialize;

/// The two tiers of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    Sensitive,
    NonSensitive,
}

/// One column-name rule. Patterns match the *normalised* name: lowercase
/// words joined by `_` (`customerEmail`, `Customer-Email` → `customer_email`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ColumnRule {
    /// Category, used in rule ids: `pii.column.<category>`.
    pub category: String,
    /// Rust regex over the normalised name.
    pub pattern: String,
    pub tier: Tier,
    /// Overrides the tier's severity.
    #[serde(default, deserialize_with = "crate::de_severity_opt")]
    pub severity: Option<Severity>,
}

fn rule(category: &str, tier: Tier, severity: Option<Severity>, pattern: &str) -> ColumnRule {
    ColumnRule {
        category: category.into(),
        pattern: pattern.into(),
        tier,
        severity,
    }
}

/// The built-in rules, most specific first: the first rule that matches a
/// column names its category (so `email_address` is an e-mail, not an address).
pub fn builtin() -> Vec<ColumnRule> {
    use Tier::*;
    let critical = Some(Severity::Critical);
    vec![
        rule("email", Sensitive, None, r"(^|_)(e_?mail|mail)(_|$)"),
        rule(
            "ssn",
            Sensitive,
            critical,
            r"(^|_)(ssn|social_?security(_?(number|no|num|nr))?)(_|$)",
        ),
        rule(
            "credit-card",
            Sensitive,
            critical,
            r"(^|_)(credit_?card|card_?(number|num|no|nr)|cc_?(number|num|no)|ccn|pan)(_|$)",
        ),
        rule(
            "bank-account",
            Sensitive,
            critical,
            r"(^|_)(iban|bank_?(account|acct)(_?(number|no|num))?|account_?(number|no|num)|routing_?number|bic|swift(_?code)?)(_|$)",
        ),
        rule("passport", Sensitive, critical, r"(^|_)passport(_|$)"),
        rule(
            "phone",
            Sensitive,
            None,
            r"(^|_)(phone|telephone|tel|mobile_?(number|no|phone)|cell_?phone|msisdn|fax)(_?(number|no|num|nr))?(_|$)",
        ),
        rule(
            "person-name",
            Sensitive,
            None,
            r"(^|_)((first|last|middle|full|given|family|maiden|nick|sur|user|customer|person|client|patient|employee)_?name|fname|lname|surname)(_|$)",
        ),
        rule(
            "date-of-birth",
            NonSensitive,
            None,
            r"(^|_)(date_?of_?birth|dob|birth_?(date|day)|birthday)(_|$)",
        ),
        rule(
            "ip-address",
            NonSensitive,
            None,
            r"(^|_)(ip|ipv4|ipv6|ip_?addr(ess)?|client_?ip|remote_?addr)(_|$)",
        ),
        rule(
            "address",
            NonSensitive,
            None,
            r"(^|_)((street|home|postal|mailing|billing|shipping|residential)_?address|address|street|postcode|postal_?code|zip(_?code)?)(_|$)",
        ),
    ]
}

/// Lowercase words joined by `_`: splits on any non-alphanumeric character
/// and on lower→upper camelCase boundaries.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        prev = Some(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_spellings() {
        assert_eq!(normalise("customerEmail"), "customer_email");
        assert_eq!(normalise("Customer-Email "), "customer_email");
        assert_eq!(normalise("SSN"), "ssn");
        assert_eq!(normalise("date.of.birth"), "date_of_birth");
        assert_eq!(normalise("ip_v4"), "ip_v4");
    }
}
