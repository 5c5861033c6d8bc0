use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Micros per major currency unit (Google Ads' unit; Meta's minor units are derived from it by the connector).
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An exact amount of money in micros of the account currency. Never an f64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an amount of money")]
    NotANumber(String),
    #[error("`{input}` has more decimals than {currency} allows ({allowed})")]
    TooPrecise {
        input: String,
        currency: String,
        allowed: u32,
    },
    #[error("`{0}` is too large")]
    Overflow(String),
    #[error("unknown currency `{0}`")]
    UnknownCurrency(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Parse a decimal amount written in the major unit (`"50"`, `"12.34"`, `"-1.5"`) exactly.
    /// More fractional digits than the currency has minor units is an error, never a rounding.
    pub fn parse(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let s = input.trim();
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        let valid = |p: &str| p.bytes().all(|b| b.is_ascii_digit() || b == b'_');
        if (int_part.is_empty() && frac_part.is_empty())
            || !valid(int_part)
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
            || int_part.starts_with('_')
            || (digits.contains('.') && frac_part.is_empty())
        {
            return Err(MoneyError::NotANumber(input.to_string()));
        }
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() as u32 > currency.minor_units() {
            return Err(MoneyError::TooPrecise {
                input: input.to_string(),
                currency: currency.code().to_string(),
                allowed: currency.minor_units(),
            });
        }
        let overflow = || MoneyError::Overflow(input.to_string());
        let int_clean: String = int_part.chars().filter(|c| *c != '_').collect();
        let int: i64 = if int_clean.is_empty() {
            0
        } else {
            int_clean.parse().map_err(|_| overflow())?
        };
        let mut frac_micros: i64 = 0;
        for (i, b) in frac_trimmed.bytes().enumerate() {
            frac_micros += i64::from(b - b'0') * 10_i64.pow(5 - i as u32);
        }
        let micros = int
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|m| m.checked_add(frac_micros))
            .ok_or_else(overflow)?;
        Ok(Money(if neg { -micros } else { micros }))
    }

    /// Format in the major unit with exactly the currency's minor digits (`50.00`, `5000` for JPY).
    /// Amounts finer than the currency (possible on live data) are shown with the extra digits.
    pub fn to_decimal_string(self, currency: Currency) -> String {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let int = abs / MICROS_PER_UNIT as u64;
        let frac = abs % MICROS_PER_UNIT as u64;
        let mut frac_s = format!("{frac:06}");
        let min = currency.minor_units() as usize;
        while frac_s.len() > min && frac_s.ends_with('0') {
            frac_s.pop();
        }
        let sign = if neg { "-" } else { "" };
        if frac_s.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac_s}")
        }
    }

    /// Format for people: `$50.00`, `¥5,000`, `12.50 CHF`.
    pub fn display(self, currency: Currency) -> String {
        let plain = self.to_decimal_string(currency);
        let (sign, plain) = match plain.strip_prefix('-') {
            Some(p) => ("-", p.to_string()),
            None => ("", plain),
        };
        let (int, frac) = match plain.split_once('.') {
            Some((i, f)) => (i.to_string(), Some(f.to_string())),
            None => (plain.clone(), None),
        };
        let grouped = group_thousands(&int);
        let num = match frac {
            Some(f) => format!("{grouped}.{f}"),
            None => grouped,
        };
        match currency.symbol() {
            Some(sym) => format!("{sign}{sym}{num}"),
            None => format!("{sign}{num} {}", currency.code()),
        }
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

/// Digits with thousands separators: `1234567` → `1,234,567` (for amounts and counts shown to people).
pub fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An ISO 4217 currency with its number of minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency {
    code: [u8; 3],
    minor: u8,
}

/// Active ISO 4217 codes and their minor units (exponent).
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

impl Currency {
    pub const USD: Currency = Currency {
        code: *b"USD",
        minor: 2,
    };

    /// Look up an ISO 4217 code (upper case).
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, m)| {
                let b = c.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    minor: *m,
                }
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))
    }
    /// All known codes, for "did you mean" hints.
    pub fn all_codes() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(c, _)| *c)
    }
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("???")
    }
    /// ISO 4217 exponent: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor)
    }
    fn symbol(&self) -> Option<&'static str> {
        Some(match self.code() {
            "USD" => "$",
            "EUR" => "€",
            "GBP" => "£",
            "JPY" => "¥",
            "INR" => "₹",
            "KRW" => "₩",
            _ => return None,
        })
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::from_code(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cur(c: &str) -> Currency {
        Currency::from_code(c).unwrap()
    }

    #[test]
    fn parses_exactly() {
        assert_eq!(Money::parse("12.34", Currency::USD).unwrap().micros(), 12_340_000);
        assert_eq!(Money::parse("50", Currency::USD).unwrap().micros(), 50_000_000);
        assert_eq!(Money::parse("0.1", Currency::USD).unwrap().micros(), 100_000);
        assert_eq!(Money::parse("5000", cur("JPY")).unwrap().micros(), 5_000_000_000);
        assert_eq!(Money::parse("1.230", Currency::USD).unwrap().micros(), 1_230_000);
    }

    #[test]
    fn rejects_excess_precision_and_garbage() {
        assert!(matches!(
            Money::parse("1.234", Currency::USD),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse("1.5", cur("JPY")),
            Err(MoneyError::TooPrecise { .. })
        ));
        for bad in ["", ".", "1.", "abc", "1e3", "1,5", "--1", "NaN", "inf"] {
            assert!(Money::parse(bad, Currency::USD).is_err(), "{bad}");
        }
        assert!(matches!(
            Money::parse("99999999999999999", Currency::USD),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn displays_for_people() {
        assert_eq!(Money::from_micros(50_000_000).display(Currency::USD), "$50.00");
        assert_eq!(Money::from_micros(1_234_500_000).display(Currency::USD), "$1,234.50");
        assert_eq!(Money::from_micros(5_000_000_000).display(cur("JPY")), "¥5,000");
        assert_eq!(Money::from_micros(12_500_000).display(cur("CHF")), "12.50 CHF");
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(CURRENCIES.to_vec()).prop_map(|(c, _)| cur(c))
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(units in -1_000_000_000i64..1_000_000_000, frac in 0i64..1000, c in any_currency()) {
            let step = 10_i64.pow(6 - c.minor_units());
            let micros = units * MICROS_PER_UNIT + units.signum() * ((frac * step) % MICROS_PER_UNIT);
            let m = Money::from_micros(micros);
            let s = m.to_decimal_string(c);
            prop_assert_eq!(Money::parse(&s, c).unwrap(), m);
        }

        #[test]
        fn parse_then_format_is_canonical(int in 0u64..10_000_000, frac in "[0-9]{0,2}") {
            let input = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let m = Money::parse(&input, Currency::USD).unwrap();
            let back = Money::parse(&m.to_decimal_string(Currency::USD), Currency::USD).unwrap();
            prop_assert_eq!(m, back);
        }

        #[test]
        fn excess_precision_is_rejected(int in 0u64..1_000_000, extra in 1u32..9, digit in 1u8..10, c in any_currency()) {
            let zeros = "0".repeat((c.minor_units() + extra - 1) as usize);
            let input = format!("{int}.{zeros}{digit}");
            let too_precise = matches!(Money::parse(&input, c), Err(MoneyError::TooPrecise { .. }));
            prop_assert!(too_precise);
        }
    }
}
