//! Meta's own validation rules for what the YAML says.

use crate::spec::error::Code;
use crate::spec::rules::{problem, Problem};
use crate::spec::types::*;
use crate::spec::yaml::Span;
use crate::spec::Spanned;

type S<T> = Spanned<T>;

/// Targeting that Meta refuses or that contradicts itself: no location, region or city names where keys are
/// required, positions of a platform that is not selected, an audience both included and excluded.
pub fn targeting(t: &S<Targeting>, key_of: impl Fn(Span) -> Option<Span>) -> Vec<Problem> {
    let mut out = Vec::new();
    // a location
    let geo = [
        ("countries", &*t.countries),
        ("regions", &*t.regions),
        ("cities", &*t.cities),
    ];
    let invalid = t.countries.is_invalid() || t.regions.is_invalid() || t.cities.is_invalid();
    if !invalid && geo.iter().all(|(_, v)| v.as_ref().is_none_or(|l| l.is_empty())) {
        let written = geo.iter().find_map(|(k, v)| v.as_ref().map(|l| (*k, l.span)));
        let (span, msg) = match written {
            Some((k, span)) => (
                key_of(span).unwrap_or(span),
                format!("`{k}` is empty and the targeting has no other location"),
            ),
            None => (
                key_of(t.span).unwrap_or(t.span),
                "the targeting has no location (`countries`, `regions` or `cities`)".into(),
            ),
        };
        out.push(problem(
            span,
            Code::Constraint,
            msg,
            "Meta needs a location: add `countries: [US]` (or region / city keys)",
        ));
    }
    // keys, not names
    for (field, list, example) in [
        ("regions", &*t.regions, "\"3847\" for California"),
        ("cities", &*t.cities, "\"2420379\" for Berlin"),
    ] {
        for r in list.iter().flat_map(|l| l.iter()) {
            let v = r.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                out.push(problem(
                    r.span,
                    Code::InvalidValue,
                    format!("`{field}` takes Meta location keys, not names: `{v}`"),
                    format!("find the key with the Targeting Search API (`type=adgeolocation`), e.g. {example}"),
                ));
            }
        }
    }
    // positions need their platform
    if let Some(platforms) = &*t.publisher_platforms {
        for (field, list, platform) in [
            (
                "facebook_positions",
                &*t.facebook_positions,
                PublisherPlatform::Facebook,
            ),
            (
                "instagram_positions",
                &*t.instagram_positions,
                PublisherPlatform::Instagram,
            ),
        ] {
            if let Some(l) = list {
                if !platforms.iter().any(|p| p.value == platform) {
                    out.push(problem(
                        key_of(l.span).unwrap_or(l.span),
                        Code::Constraint,
                        format!(
                            "`{field}` is set but `publisher_platforms` does not include `{}`",
                            platform.wire()
                        ),
                        format!(
                            "add `{}` to `publisher_platforms`, or remove `{field}`",
                            platform.wire()
                        ),
                    ));
                }
            }
        }
    }
    // included and excluded
    if let (Some(inc), Some(exc)) = (&*t.custom_audiences, &*t.excluded_custom_audiences) {
        for e in exc.iter() {
            if let Some(i) = inc.iter().find(|i| i.trim() == e.trim()) {
                out.push(problem(
                    e.span,
                    Code::Constraint,
                    format!("audience `{}` is both targeted and excluded", e.trim()),
                    format!(
                        "remove it from `excluded_custom_audiences` or from `custom_audiences` (line {})",
                        i.span.line
                    ),
                ));
            }
        }
    }
    out
}

/// Names and texts of a campaign that must be on one line (the platform keeps one line).
pub fn single_line(c: &crate::spec::types::MetaCampaign) -> Vec<crate::spec::rules::Problem> {
    use crate::spec::rules::{one_line, one_line_opt, values};
    let mut out = Vec::new();
    one_line(&c.name, "campaign name", &mut out);
    for s in values(&c.ad_sets) {
        one_line(&s.name, "ad set name", &mut out);
        for ad in values(&s.ads) {
            one_line(&ad.name, "ad name", &mut out);
            one_line_opt(&ad.creative.headline, "headline", &mut out);
            one_line_opt(&ad.creative.description, "description", &mut out);
        }
    }
    out
}
