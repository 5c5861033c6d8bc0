use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a resource is. Platform-neutral: a Google Ads campaign and a Meta campaign are both `Campaign`;
/// which fields they carry is the platform's business (see `docs/resource-model.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The settings of the audience a Mailchimp account is (Mailchimp's API calls it a list): the account's own
    /// object, there as long as the account is (see [`Kind::of_account`]). First, so that it and its merge fields
    /// are written before the contacts that use them.
    List,
    /// A merge field of a Mailchimp audience (a contact attribute, by its merge tag).
    MergeField,
    /// Google Ads shared campaign budget (a campaign's own budget is part of the campaign).
    Budget,
    /// Customer-file audience (Google Customer Match user list, Meta custom audience).
    Audience,
    /// Meta lookalike audience.
    LookalikeAudience,
    /// LinkedIn campaign group (the top of a LinkedIn account's tree; its campaigns are `campaign`s below it).
    CampaignGroup,
    Campaign,
    /// Google Ads ad group.
    AdGroup,
    /// Meta ad set.
    AdSet,
    Ad,
    /// Google Ads keyword (ad group criterion).
    Keyword,
    /// Google Ads negative keyword (campaign or ad group criterion).
    NegativeKeyword,
    /// LinkedIn creative (below a LinkedIn campaign).
    Creative,
    /// X promoted post (promoted tweet) below a line item: the post's id is its whole identity.
    PromotedPost,
    /// X targeting criterion below a line item: its type, value and operator are its whole identity.
    TargetingCriterion,
    /// Google Ads conversion action (conversion tracking at the account's level).
    Conversion,
    /// Meta custom conversion: the events of one pixel that match a rule, at the account's level.
    CustomConversion,
    /// An A/B test at the account's level (Meta split test: cells of campaigns or ad sets sharing one audience).
    SplitTest,
    /// Meta product set: a filter over the products of one catalog (catalog ads), at the account's level.
    ProductSet,
    /// Google Ads asset group of a Performance Max campaign (its final URLs and listing group filter tree).
    AssetGroup,
    /// An A/B test at the account's level (Google Ads experiment: a base campaign, a trial arm with changed
    /// settings, a traffic split, dates and an action: run, promote or end).
    Experiment,
}

impl Kind {
    pub const ALL: [Kind; 21] = [
        Kind::List,
        Kind::MergeField,
        Kind::Budget,
        Kind::Audience,
        Kind::LookalikeAudience,
        Kind::CampaignGroup,
        Kind::Campaign,
        Kind::AdGroup,
        Kind::AdSet,
        Kind::Ad,
        Kind::Keyword,
        Kind::NegativeKeyword,
        Kind::Creative,
        Kind::PromotedPost,
        Kind::TargetingCriterion,
        Kind::Conversion,
        Kind::CustomConversion,
        Kind::SplitTest,
        Kind::ProductSet,
        Kind::AssetGroup,
        Kind::Experiment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::MergeField => "merge_field",
            Kind::Budget => "budget",
            Kind::Audience => "audience",
            Kind::LookalikeAudience => "lookalike_audience",
            Kind::CampaignGroup => "campaign_group",
            Kind::Campaign => "campaign",
            Kind::AdGroup => "ad_group",
            Kind::AdSet => "ad_set",
            Kind::Ad => "ad",
            Kind::Keyword => "keyword",
            Kind::NegativeKeyword => "negative_keyword",
            Kind::Creative => "creative",
            Kind::PromotedPost => "promoted_post",
            Kind::TargetingCriterion => "targeting_criterion",
            Kind::Conversion => "conversion",
            Kind::CustomConversion => "custom_conversion",
            Kind::SplitTest => "split_test",
            Kind::ProductSet => "product_set",
            Kind::AssetGroup => "asset_group",
            Kind::Experiment => "experiment",
        }
    }

    /// Whether objects of this kind have a `status` that `on_removed: pause` can set. X's promoted posts and
    /// targeting criteria, Google's negative keywords, budgets and audiences have none: a removal policy of `pause`
    /// leaves them as they are (under a paused parent, they do nothing).
    pub fn pausable(self) -> bool {
        matches!(
            self,
            Kind::CampaignGroup
                | Kind::Campaign
                | Kind::AdGroup
                | Kind::AdSet
                | Kind::Ad
                | Kind::Keyword
                | Kind::Creative
                | Kind::AssetGroup
        )
    }

    /// Whether objects of this kind are a part of their parent's settings (X's targeting criteria and promoted
    /// posts: which people a line item reaches, which posts it shows; Google's negative keywords: which searches a
    /// campaign or ad group stays out of), which the platform can neither pause nor change: while the parent stays
    /// in the YAML, one it no longer lists is removed, whatever `on_removed` says.
    pub fn part_of_parent(self) -> bool {
        matches!(
            self,
            Kind::TargetingCriterion | Kind::PromotedPost | Kind::NegativeKeyword
        )
    }

    /// Whether objects of this kind are the account's own settings (a Mailchimp audience's): there as long as the
    /// account is, so adsctl never creates or removes one; one the YAML stops declaring is left as it is, no
    /// longer managed, whatever `on_removed` says.
    pub fn of_account(self) -> bool {
        matches!(self, Kind::List)
    }

    /// Creation rank: lower ranks are created first and removed last.
    pub fn rank(self) -> u8 {
        match self {
            Kind::List
            | Kind::MergeField
            | Kind::Budget
            | Kind::Audience
            | Kind::Conversion
            | Kind::CustomConversion
            | Kind::ProductSet => 0,
            Kind::LookalikeAudience | Kind::CampaignGroup => 1,
            Kind::Campaign => 2,
            // an experiment names the campaign it tests
            Kind::AdGroup | Kind::AdSet | Kind::AssetGroup | Kind::Experiment => 3,
            Kind::Ad
            | Kind::Keyword
            | Kind::NegativeKeyword
            | Kind::Creative
            | Kind::PromotedPost
            | Kind::TargetingCriterion => 4,
            // after the campaigns and ad sets its cells name; removed before them
            Kind::SplitTest => 5,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = AddressParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| AddressParseError(format!("unknown kind `{s}`")))
    }
}

/// Where a resource lives: `<account>/<kind>/<name>[/<kind>/<name>…]`.
///
/// Names are the resource's name within its parent, or a natural key for unnamed kinds
/// (a keyword is `<text>:<match type>` with the text lower-cased; a Google responsive search ad is its
/// 1-based position in its ad group). In the string form `/` and `%` inside names are percent-encoded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub account: String,
    pub path: Vec<(Kind, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address: {0}")]
pub struct AddressParseError(pub String);

/// Write `s` with `%` and `/` percent-encoded (names rarely hold either: then it is written as it is).
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if !s.contains(['%', '/']) {
        return f.write_str(s);
    }
    f.write_str(&s.replace('%', "%25").replace('/', "%2F"))
}
fn unescape(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    s.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")
}

impl Address {
    pub fn account(account: impl Into<String>) -> Address {
        Address {
            account: account.into(),
            path: Vec::new(),
        }
    }
    /// A child address: `self/<kind>/<name>`.
    pub fn child(&self, kind: Kind, name: impl Into<String>) -> Address {
        // exact capacity: a clone and a push would double it (100k addresses are held at once)
        let mut path = Vec::with_capacity(self.path.len() + 1);
        path.extend(self.path.iter().cloned());
        path.push((kind, name.into()));
        Address {
            account: self.account.clone(),
            path,
        }
    }
    pub fn kind(&self) -> Option<Kind> {
        self.path.last().map(|(k, _)| *k)
    }
    pub fn name(&self) -> Option<&str> {
        self.path.last().map(|(_, n)| n.as_str())
    }
    pub fn parent(&self) -> Option<Address> {
        if self.path.len() <= 1 {
            return None;
        }
        Some(Address {
            account: self.account.clone(),
            path: self.path[..self.path.len() - 1].to_vec(),
        })
    }
    /// True when `self` is `other` or lies below it (used by `--target`).
    pub fn is_within(&self, other: &Address) -> bool {
        self.account == other.account
            && self.path.len() >= other.path.len()
            && self.path[..other.path.len()] == other.path[..]
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, &self.account)?;
        for (k, n) in &self.path {
            f.write_str("/")?;
            f.write_str(k.as_str())?;
            f.write_str("/")?;
            write_escaped(f, n)?;
        }
        Ok(())
    }
}

impl FromStr for Address {
    type Err = AddressParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('/');
        let account = parts
            .next()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| AddressParseError(format!("`{s}` has no account")))?;
        let mut a = Address::account(unescape(account));
        a.path.reserve_exact(s.matches('/').count() / 2);
        loop {
            match (parts.next(), parts.next()) {
                (None, _) => break,
                (Some(k), Some(n)) if !n.is_empty() => a.path.push((k.parse()?, unescape(n))),
                _ => {
                    return Err(AddressParseError(format!(
                        "`{s}`: expected <account>/<kind>/<name>[/<kind>/<name>…]"
                    )))
                }
            }
        }
        Ok(a)
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_slashes() {
        let a = Address::account("acme")
            .child(Kind::Campaign, "A/B 100%")
            .child(Kind::AdGroup, "x")
            .child(Kind::Keyword, "running shoes:phrase");
        let s = a.to_string();
        assert_eq!(s, "acme/campaign/A%2FB 100%25/ad_group/x/keyword/running shoes:phrase");
        assert_eq!(s.parse::<Address>().unwrap(), a);
        assert_eq!(a.parent().unwrap().to_string(), "acme/campaign/A%2FB 100%25/ad_group/x");
        assert!(a.is_within(&Address::account("acme").child(Kind::Campaign, "A/B 100%")));
        assert!("acme/campaign".parse::<Address>().is_err());
        assert!("acme/bogus/x".parse::<Address>().is_err());
    }
}
