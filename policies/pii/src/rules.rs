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
    /// Names this matches are not the rule's, though `pattern` matches them:
    /// a flag or a count about the data, not the data (`email_opt_in`).
    #[serde(default)]
    pub unless: Option<String>,
    /// Overrides the tier's severity.
    #[serde(default, deserialize_with = "crate::de_severity_opt")]
    pub severity: Option<Severity>,
}

fn rule(category: &str, tier: Tier, severity: Option<Severity>, pattern: &str) -> ColumnRule {
    ColumnRule {
        category: category.into(),
        pattern: pattern.into(),
        unless: None,
        tier,
        severity,
    }
}

impl ColumnRule {
    fn unless(mut self, pattern: &str) -> Self {
        self.unless = Some(pattern.into());
        self
    }
}

/// The built-in rules, most specific first: the first rule that matches a
/// column names its category (so `email_address` is an e-mail, not an address).
///
/// Coverage follows OpenMetadata's PII tags and Presidio's entity list, and
/// GDPR Art. 9's special categories. A contact word with any other word is
/// still the contact (`email_lower`, `phone_raw`), except the flags and counts
/// real schemas name after it (`PhoneService`, `email_opt_in`, `num_emails`),
/// which each rule's `unless` lists; `mobile`/`cell` count only with
/// `number` or `phone` (`is_mobile` is a flag).
pub fn builtin() -> Vec<ColumnRule> {
    use Tier::*;
    let critical = Some(Severity::Critical);
    vec![
        rule("email", Sensitive, None, r"(^|_)(e_?mails?|mail)(_|$)|(^|_)e_?mail_?address(es)?(_|$)|^emailaddress(es)?$").unless(
            r"(^|_)e_?mails?_(opt_?(in|out)|optin|optout|verified|confirmed|consent|count|sent|opened|clicked|bounced|subscribed|enabled|flag|valid|domain|type|frequency|preference)(_|$)|(^|_)(num|n|count|total|has|is)_e_?mails?(_|$)",
        ),
        rule(
            "password",
            Sensitive,
            critical,
            r"(^|_)(password|passwd|pass_?word|pwd|passphrase|pin_?(code|number)|secret_?(answer|question))(_?(hash|hashed|salt|\d))?(_|$)",
        ),
        rule(
            "ssn",
            Sensitive,
            critical,
            r"(^|_)(ssn|ss_?(number|no|num|nr)|soc_?sec(_?(number|no|num|nr))?|social_?security(_?(number|no|num|nr))?|social_?insurance(_?(number|no|num|nr))?|sin_?(number|no|num|nr)|nino|national_?insurance(_?(number|no|num|nr))?)(_|$)",
        ),
        rule(
            "national-id",
            Sensitive,
            critical,
            r"(^|_)(national_?id(entity)?(_?(number|no|num|nr|card))?|nid|id_?card(_?(number|no|num|nr))?|identity_?(card|number|document)(_?(number|no|num|nr))?|personal_?(id|identification)_?(number|no|num|nr|code)|tax_?(id|identification|payer)(_?(number|no|num|nr))?|tin|taxpayer_?id|steuer_?id|nif|nie|dni|bsn|personnummer|pesel|codice_?fiscale|nir|curp|aadhaar(_?(number|no))?|itin)(_|$)",
        ),
        rule(
            "credit-card",
            Sensitive,
            critical,
            r"(^|_)(credit_?card|card_?(number|num|no|nr)|cc_?(number|num|no)|ccn|pan|cvv|cvc)(_|$)",
        ),
        rule(
            "bank-account",
            Sensitive,
            critical,
            r"(^|_)(iban|bank_?(account|acct)(_?(number|no|num))?|account_?(number|no|num)|routing_?number|bic|swift(_?code)?)(_|$)",
        ),
        rule("passport", Sensitive, critical, r"(^|_)passports?(_|$)"),
        rule(
            "driver-license",
            Sensitive,
            critical,
            r"(^|_)(drivers?_?licen[cs]es?|driving_?licen[cs]es?|dl_?(number|no|num|nr))(_|$)",
        ),
        // GDPR Art. 9: processing is prohibited unless an exception applies.
        rule(
            "health",
            Sensitive,
            critical,
            r"(^|_)(health(_?(status|condition|record|data|info))?|medical_?(condition|history|record|diagnosis)|diabetes|diabetic|diagnos[ie]s|diag(_?\d+)?|disease|illness|medications?|prescriptions?|icd_?(9|10|11)(_?code)?|blood_?type|disabilit(y|ies)|pregnan(t|cy)|mental_?health|hiv(_?status)?)(_|$)",
        ),
        rule(
            "genetic",
            Sensitive,
            critical,
            r"(^|_)(genetic(_?(data|test|marker))?|dna(_?(sample|sequence|profile))?|genome|genotype|snp_?id)(_|$)",
        ),
        rule(
            "biometric",
            Sensitive,
            critical,
            r"(^|_)(biometric(s|_?(data|template|id))?|fingerprints?|face_?(embedding|template|encoding|print)|facial_?(features|recognition|template)|iris_?(scan|template)|retina_?scan|voice_?print|palm_?print)(_|$)",
        ),
        rule(
            "ethnicity",
            Sensitive,
            critical,
            r"(^|_)(ethnicity|ethnic_?(origin|group|background)|race|racial_?origin)(_|$)",
        ),
        rule(
            "religion",
            Sensitive,
            critical,
            r"(^|_)(religion|religious_?(belief|affiliation|denomination)|faith|denomination)(_|$)",
        ),
        rule(
            "political-opinion",
            Sensitive,
            critical,
            r"(^|_)(political_?(opinion|views?|affiliation|party|orientation|leaning)|party_?affiliation)(_|$)",
        ),
        rule(
            "trade-union",
            Sensitive,
            critical,
            r"(^|_)(trade_?union(_?member(ship)?)?|union_?member(ship)?|labou?r_?union)(_|$)",
        ),
        rule(
            "sexual-orientation",
            Sensitive,
            critical,
            r"(^|_)(sexual_?(orientation|preference|life)|sex_?life)(_|$)",
        ),
        rule(
            "phone",
            Sensitive,
            None,
            r"(^|_)(phone|telephone|tel|cell_?phone|msisdn|fax)(_|$)|(^|_)(mobile|cell)_?(number|no|num|nr|phone)(_|$)",
        )
        .unless(
            r"(^|_)(phone|telephone|tel)_?(service|type|count|verified|confirmed|flag|enabled|lines?|plan|model|brand|os)(_|$)|(^|_)(has|is|num|n|count)_(phone|telephone|mobile|cell|fax)(_|$)",
        ),
        rule(
            "person-name",
            Sensitive,
            None,
            r"(^|_)((first|last|middle|full|given|family|maiden|nick|sur|user|customer|person|client|patient|employee|contact|legal|display|birth)_?names?|fname|lname|surname|forename)(_|$)",
        ),
        rule(
            "date-of-birth",
            NonSensitive,
            None,
            r"(^|_)(date_?of_?birth|dob|birth_?(date|day)|birthday|place_?of_?birth|birth_?place)(_|$)",
        ),
        rule("gender", NonSensitive, None, r"(^|_)(gender|sex)(_|$)"),
        rule(
            "nationality",
            NonSensitive,
            None,
            r"(^|_)(nationality|citizenship|native_?country|country_?of_?(birth|citizenship|origin))(_|$)",
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
