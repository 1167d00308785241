//! Validators that cut false positives from value patterns. Pure functions,
//! after Microsoft Presidio's recognizers (US SSN, credit card, IBAN, e-mail).

/// A US Social Security Number: `AAA-GG-SSSS` or `AAA GG SSSS` with one
/// delimiter used throughout. Invalid by the SSA's rules: area 000, 666 or
/// 900-999; group 00; serial 0000; and all-same-digit numbers.
pub fn is_valid_ssn(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 11 {
        return false;
    }
    let delim = b[3];
    if !(delim == b'-' || delim == b' ') || b[6] != delim {
        return false; // mixed or missing delimiters
    }
    let digits: Vec<u8> = b
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 6)
        .map(|(_, c)| *c)
        .collect();
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let area = &s[0..3];
    let group = &s[4..6];
    let serial = &s[7..11];
    if area == "000" || area == "666" || area.starts_with('9') || group == "00" || serial == "0000" {
        return false;
    }
    !digits.iter().all(|d| *d == digits[0])
}

/// A payment card number: 13-19 digits (spaces or dashes allowed between
/// groups) that passes the Luhn check and is not one repeated digit.
pub fn is_valid_card_number(s: &str) -> bool {
    if !s.bytes().all(|c| c.is_ascii_digit() || c == b' ' || c == b'-') {
        return false;
    }
    let digits: Vec<u32> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|c| u32::from(c - b'0'))
        .collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    luhn(&digits)
}

/// The Luhn (mod 10) check over a digit sequence.
pub fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Registered IBAN lengths for common countries (ISO 13616 registry). A
/// country not listed is accepted on the mod-97 check alone.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
];

/// An IBAN: country code, two check digits, BBAN; spaces allowed in groups of
/// four; correct length for its country where known; ISO 7064 mod-97 == 1.
pub fn is_valid_iban(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| *c != ' ').collect();
    let b = compact.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b[4..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return false;
    }
    let registered_len = IBAN_LENGTHS
        .iter()
        .find(|(cc, _)| cc.as_bytes() == &b[..2])
        .map(|(_, len)| *len);
    if registered_len.is_some_and(|len| len != b.len()) {
        return false;
    }
    // Move the first four characters to the end, letters to 10..35, mod 97.
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Domains reserved for documentation and testing (RFC 2606 / RFC 6761):
/// addresses there are not personal data.
const RESERVED_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "example",
    "test",
    "invalid",
    "localhost",
];

/// An e-mail address whose domain is plausible: at least two labels, each
/// 1-63 letters, digits or inner hyphens, an alphabetic top-level label of 2+
/// letters, and not a reserved documentation domain.
pub fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    let domain = domain.to_ascii_lowercase();
    if RESERVED_DOMAINS
        .iter()
        .any(|r| domain == *r || domain.ends_with(&format!(".{r}")))
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let Some(tld) = labels.last() else { return false };
    labels.len() >= 2
        && tld.len() >= 2
        && tld.bytes().all(|c| c.is_ascii_alphabetic())
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// Show only the last four characters, so a finding never carries the value.
/// A phone number as written (the shape is checked first): 8 to 15 digits
/// in all (E.164's maximum is 15), a national number with a trunk `0` 9 to
/// 12, and no run of separators longer than one (a bracket beside a space
/// aside), so lists of numbers and ranges are not one phone.
pub fn is_plausible_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let national = s.starts_with('0');
    let digits_ok = if national {
        (9..=12).contains(&digits)
    } else {
        (8..=15).contains(&digits)
    };
    let loose = s
        .as_bytes()
        .windows(2)
        .any(|w| matches!(w, [b' ' | b'.' | b'-', b' ' | b'.' | b'-']));
    // Three, two and four digits is an SSN's shape (valid or not), not a
    // phone's anywhere.
    let groups: Vec<usize> = s.split([' ', '-']).map(|g| g.len()).collect();
    let ssn_shaped = groups == [3, 2, 4] && s.chars().filter(char::is_ascii_digit).count() == 9;
    digits_ok && !loose && !ssn_shaped
}

pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let keep = if chars.len() >= 8 { 4 } else { 0 };
    let hidden: String = chars[..chars.len() - keep]
        .iter()
        .map(|c| if c.is_alphanumeric() { '*' } else { *c })
        .collect();
    hidden + &chars[chars.len() - keep..].iter().collect::<String>()
}

#[cfg(test)]
mod tests {

    #[test]
    fn phone_numbers_as_people_write_them() {
        for ok in [
            "+44 20 7946 0958",
            "+1 (555) 123-4567",
            "(020) 7946 0958",
            "020 7946 0958",
            "01 23 45 67 89",
            "+441632960961",
        ] {
            assert!(is_plausible_phone(ok), "{ok}");
        }
        for no in [
            "+12 34",
            "0 12",
            "020  7946 0958",
            "0123 - 4567 89",
            "+1234567890123456",
            "000-12-3456",
            "012 34 5678",
        ] {
            assert!(!is_plausible_phone(no), "{no}");
        }
    }

    use super::*;

    #[test]
    fn ssn_valid_forms() {
        assert!(is_valid_ssn("536-90-4399"));
        assert!(is_valid_ssn("536 90 4399"));
        assert!(is_valid_ssn("078-05-1121"));
    }

    #[test]
    fn ssn_invalid_by_ssa_rules() {
        for bad in [
            "000-12-3456", // area 000
            "666-12-3456", // area 666
            "900-12-3456", // area 9xx
            "999-12-3456",
            "123-00-4567", // group 00
            "123-45-0000", // serial 0000
            "111-11-1111", // one repeated digit
            "123-45 6789", // mixed delimiters
            "123 45-6789",
            "123456789",   // no delimiters
            "123-45-678",  // too short
            "12a-45-6789", // not digits
        ] {
            assert!(!is_valid_ssn(bad), "{bad} accepted");
        }
    }

    #[test]
    fn card_numbers_need_luhn() {
        assert!(is_valid_card_number("4111111111111111")); // Visa test number
        assert!(is_valid_card_number("4111 1111 1111 1111"));
        assert!(is_valid_card_number("5500-0000-0000-0004")); // Mastercard test number
        assert!(is_valid_card_number("378282246310005")); // Amex test number
        assert!(!is_valid_card_number("4111111111111112")); // Luhn fails
        assert!(!is_valid_card_number("0000000000000000")); // repeated digit
        assert!(!is_valid_card_number("411111111111")); // 12 digits
        assert!(!is_valid_card_number("4111-1111-1111-111x"));
    }

    #[test]
    fn iban_needs_mod97_and_length() {
        assert!(is_valid_iban("DE89370400440532013000"));
        assert!(is_valid_iban("GB82 WEST 1234 5698 7654 32"));
        assert!(is_valid_iban("FR1420041010050500013M02606"));
        assert!(!is_valid_iban("DE89370400440532013001")); // check digits wrong
        assert!(!is_valid_iban("DE8937040044053201300")); // DE is 22 long
        assert!(!is_valid_iban("de89370400440532013000")); // lowercase country
        assert!(!is_valid_iban("GB82WEST"));
    }

    #[test]
    fn email_needs_a_plausible_domain() {
        assert!(is_plausible_email("jane.doe@acme-corp.eu"));
        assert!(is_plausible_email("j+tag@mail.co.uk"));
        assert!(!is_plausible_email("jane@localhost"));
        assert!(!is_plausible_email("jane@example.com")); // reserved for documentation
        assert!(!is_plausible_email("jane@acme.c0m"));
        assert!(!is_plausible_email("jane@-acme.com"));
        assert!(!is_plausible_email("@acme.com"));
        assert!(!is_plausible_email("no-at-sign.com"));
    }

    #[test]
    fn masking_hides_all_but_the_tail() {
        assert_eq!(mask("536-90-4399"), "***-**-4399");
        assert_eq!(mask("ab"), "**");
    }
}
