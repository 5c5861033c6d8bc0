//! Google Ads' own validation rules for what the YAML says: keyword text written with the editor's match-type
//! syntax, and negative keywords that block a keyword of their own ad group or campaign.

use crate::spec::de::Item;
use crate::spec::error::Code;
use crate::spec::rules::{problem, Problem};
use crate::spec::types::*;
use crate::spec::yaml::Span;

fn values<T>(items: &[Item<T>]) -> impl Iterator<Item = &T> {
    items.iter().filter_map(|i| i.value.as_ref())
}

/// Keyword text written with the match-type syntax of the Google Ads editor (`[shoes]` exact, `"shoes"` phrase,
/// `+shoes` broad match modifier, `-shoes` negative): adsctl takes the match type from `match`, so the brackets
/// would become part of the text.
pub fn keyword_syntax(text: &str) -> Option<(String, String)> {
    let t = text.trim();
    let hint = |m: &str, bare: &str| format!("write `text: {bare}` with `match: {m}`");
    let inner = |open: char, close: char| {
        t.strip_prefix(open)
            .and_then(|r| r.strip_suffix(close))
            .map(str::trim)
            .filter(|r| !r.is_empty())
    };
    if let Some(bare) = inner('[', ']') {
        return Some((
            format!("keyword `{t}` is written in exact-match brackets"),
            hint("exact", bare),
        ));
    }
    if let Some(bare) = inner('"', '"').or_else(|| inner('\u{201c}', '\u{201d}')) {
        return Some((
            format!("keyword `{t}` is written in phrase-match quotes"),
            hint("phrase", bare),
        ));
    }
    if t.split_whitespace().any(|w| w.len() > 1 && w.starts_with('+')) {
        let bare: Vec<&str> = t.split_whitespace().map(|w| w.trim_start_matches('+')).collect();
        return Some((
            format!("keyword `{t}` uses the broad match modifier `+`, which Google retired"),
            hint("broad", &bare.join(" ")),
        ));
    }
    if t.len() > 1 && t.starts_with('-') && !t.starts_with("--") {
        return Some((
            format!("keyword `{t}` starts with `-`, the editor's syntax for a negative keyword"),
            format!(
                "list it under `negative_keywords` as `text: {}`",
                t.trim_start_matches('-').trim()
            ),
        ));
    }
    None
}

fn words(t: &str) -> Vec<String> {
    t.split_whitespace().map(str::to_lowercase).collect()
}

/// Two words equal but for case.
fn same_word(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Whether a negative keyword (its words, lower case) excludes the keyword's own text as a search: an exact
/// negative its exact words, a phrase negative its words in order anywhere, a broad negative all of its words in
/// any order. Negative keywords match no close variants, so the comparison is on the words as written (case
/// aside).
fn blocks(negative: &[String], m: MatchType, positive: &str) -> bool {
    if negative.is_empty() {
        return false;
    }
    // `negative` is a prefix of these words
    let prefix =
        |mut ws: std::str::SplitWhitespace<'_>| negative.iter().all(|n| ws.next().is_some_and(|w| same_word(w, n)));
    match m {
        MatchType::Exact => {
            let mut ws = positive.split_whitespace();
            negative.iter().all(|n| ws.next().is_some_and(|w| same_word(w, n))) && ws.next().is_none()
        }
        MatchType::Phrase => {
            let mut ws = positive.split_whitespace();
            loop {
                if prefix(ws.clone()) {
                    return true;
                }
                if ws.next().is_none() {
                    return false;
                }
            }
        }
        MatchType::Broad => negative
            .iter()
            .all(|n| positive.split_whitespace().any(|p| same_word(p, n))),
    }
}

/// A keyword that a negative keyword of its own ad group or campaign blocks: it could never serve for its own
/// text. Reported at the negative keyword.
pub fn keyword_conflicts(c: &GoogleCampaign, location: impl Fn(Span) -> String) -> Vec<Problem> {
    let mut out = Vec::new();
    let campaign_negatives: Vec<&NegativeKeyword> = values(&c.negative_keywords).collect();
    for g in values(&c.ad_groups) {
        if campaign_negatives.is_empty() && g.negative_keywords.is_empty() {
            continue;
        }
        let positives: Vec<&Keyword> = values(&g.keywords).collect();
        let scopes = values(&g.negative_keywords)
            .map(|n| (n, "ad group"))
            .chain(campaign_negatives.iter().map(|n| (*n, "campaign")));
        for (n, scope) in scopes {
            let nw = words(&n.text);
            if let Some(k) = positives.iter().find(|k| blocks(&nw, n.match_type.value, &k.text)) {
                out.push(problem(
                    n.text.span,
                    Code::Constraint,
                    format!(
                        "negative keyword `{}` ({}) blocks keyword `{}` ({}) of ad group `{}` (at {})",
                        n.text.trim(),
                        n.match_type.wire(),
                        k.text.trim(),
                        k.match_type.wire(),
                        g.name.trim(),
                        location(k.text.span)
                    ),
                    format!("the {scope}'s negative keyword excludes the keyword's own searches; remove one of them"),
                ));
            }
        }
    }
    out
}

/// Names and texts of a campaign that must be on one line (the platform keeps one line).
pub fn single_line(c: &GoogleCampaign) -> Vec<Problem> {
    use crate::spec::rules::{one_line, one_line_opt, one_line_text, values};
    let mut out = Vec::new();
    one_line(&c.name, "campaign name", &mut out);
    if let Some(labels) = &*c.labels {
        for l in labels.iter() {
            one_line(l, "label", &mut out);
        }
    }
    for n in values(&c.negative_keywords) {
        one_line(&n.text, "keyword", &mut out);
    }
    for g in values(&c.ad_groups) {
        one_line(&g.name, "ad group name", &mut out);
        for k in values(&g.keywords) {
            one_line(&k.text, "keyword", &mut out);
        }
        for n in values(&g.negative_keywords) {
            one_line(&n.text, "keyword", &mut out);
        }
        for ad in values(&g.ads) {
            let r = &ad.responsive_search;
            for h in r.headlines.iter() {
                one_line_text(h, "headline", &mut out);
            }
            for d in r.descriptions.iter() {
                one_line_text(d, "description", &mut out);
            }
            one_line_opt(&r.path1, "path1", &mut out);
            one_line_opt(&r.path2, "path2", &mut out);
        }
    }
    out
}
