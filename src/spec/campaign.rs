//! Reading a campaign block in the language of its account's platform.
//!
//! A resource file's campaigns are written in each platform's own campaign language (its home's campaign type:
//! which keys, which nested objects), which only the campaign's `account:` decides. The
//! deserializer hands each campaign's node to [`hook`] (`de::capture`), which looks the account's platform up in
//! the project file and lets that platform's home read the block as its own type (`Home::parse_campaign`). A key
//! of another platform's campaigns is reported as such ("`<key>` belong to <other platform> campaigns; this
//! account is <platform>", with that platform's counterpart as the hint) and left out; anything else unknown is the usual
//! unknown field. A campaign whose account is not in the project file is read no further: the missing account is
//! its error.

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use super::de::{self, CaptureHook, DeError, Spanned};
use super::error::Code;
use super::types::Campaign;
use super::yaml::{Node, NodeKind};
use crate::model::Platform;
use crate::platforms::Home;

/// The keys every platform's campaign has.
const COMMON: &[&str] = &["name", "account", "id", "status", "lifecycle", "budget"];

/// The platform of each account of the project file, by local name.
pub type AccountPlatforms = Arc<HashMap<String, Platform>>;

/// The capture hook that reads campaigns for a project with these accounts.
pub fn hook(accounts: AccountPlatforms) -> CaptureHook {
    std::rc::Rc::new(move |node: &Node, what: &'static str| match what {
        "lookalike_audience" => {
            let (account, body) = read_block(node, &accounts, |h, n| h.parse_lookalike(n));
            Box::new(super::types::LookalikeAudience { account, body }) as Box<dyn Any + Send>
        }
        "list" => {
            let (account, body) = read_block(node, &accounts, |h, n| h.parse_list(n));
            Box::new(super::types::ListSettings { account, body }) as Box<dyn Any + Send>
        }
        "conversion" => {
            let (account, body) = read_block(node, &accounts, |home, node| home.parse_conversion(node));
            Box::new(super::types::Conversion { account, body }) as Box<dyn Any + Send>
        }
        "split_test" => {
            let (account, body) = read_block(node, &accounts, |home, node| home.parse_split_test(node));
            Box::new(super::types::SplitTest { account, body }) as Box<dyn Any + Send>
        }
        "product_catalog" => {
            let (account, body) = read_block(node, &accounts, |home, node| home.parse_product_catalog(node));
            Box::new(super::types::ProductCatalog { account, body }) as Box<dyn Any + Send>
        }
        "experiment" => {
            let (account, body) = read_block(node, &accounts, |home, node| home.parse_experiment(node));
            Box::new(super::types::Experiment { account, body }) as Box<dyn Any + Send>
        }
        "custom_conversion" => {
            let (account, body) = read_block(node, &accounts, |home, node| home.parse_custom_conversion(node));
            Box::new(super::types::CustomConversion { account, body }) as Box<dyn Any + Send>
        }
        _ => Box::new(read(node, &accounts)) as Box<dyn Any + Send>,
    })
}

/// A platform's reading of a block: `None` when the account or its platform is unknown, or the home cannot read it.
type Parsed = Option<(Platform, Box<dyn Any + Send>)>;

/// A block only some platforms have (a lookalike audience, a `lists:` entry, a conversion), read by its account's
/// platform's home with `parse`; a platform without such blocks says so at `account:` when it is lowered.
fn read_block(
    node: &Node,
    accounts: &HashMap<String, Platform>,
    parse: fn(&dyn Home, &Node) -> Option<Box<dyn Any + Send>>,
) -> (Option<Spanned<String>>, Parsed) {
    let NodeKind::Map(entries) = &node.kind else {
        let _ = de::from_node::<Head>(node);
        return (None, None);
    };
    let Some((_, value)) = entries.iter().find(|(k, _)| de::key_text(k) == "account") else {
        de::record(<DeError as serde::de::Error>::missing_field("account").at(node.span));
        return (None, None);
    };
    let Some(account) = de::from_node::<Spanned<String>>(value) else {
        return (None, None);
    };
    let home = accounts.get(account.trim()).copied().and_then(crate::platforms::home);
    let body = home.and_then(|home| Some((home.platform(), parse(home, node)?)));
    (Some(account), body)
}

/// What a campaign block that cannot be read as any platform's says when it is not a mapping at all.
#[derive(Deserialize)]
#[serde(rename = "Campaign")]
#[allow(dead_code)]
struct Head {
    name: Spanned<String>,
    account: Spanned<String>,
}

fn read(node: &Node, accounts: &HashMap<String, Platform>) -> Campaign {
    let nothing = Campaign {
        account: None,
        body: None,
    };
    let NodeKind::Map(entries) = &node.kind else {
        // reported as any struct that is not a mapping is ("expected a mapping (campaign)")
        let _ = de::from_node::<Head>(node);
        return nothing;
    };
    let Some((_, value)) = entries.iter().find(|(k, _)| de::key_text(k) == "account") else {
        de::record(<DeError as serde::de::Error>::missing_field("account").at(node.span));
        return nothing;
    };
    let Some(account) = de::from_node::<Spanned<String>>(value) else {
        return nothing;
    };
    let home = accounts.get(account.trim()).copied().and_then(crate::platforms::home);
    let body = home.and_then(|home| {
        let c = home.parse_campaign(&without_foreign_keys(node, home))?;
        Some((home.platform(), c))
    });
    Campaign {
        account: Some(account),
        body,
    }
}

/// `node` without the keys only other platforms' campaigns have, each reported at its key.
fn without_foreign_keys<'n>(node: &'n Node, home: &dyn Home) -> Cow<'n, Node> {
    let NodeKind::Map(entries) = &node.kind else {
        return Cow::Borrowed(node);
    };
    let platform = home.platform();
    let own = home.campaign_fields();
    let owner = |key: &str| {
        crate::platforms::HOMES
            .iter()
            .find(|h| h.platform() != platform && h.campaign_fields().contains(&key))
    };
    let foreign: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| {
            let key = de::key_text(k);
            !COMMON.contains(&key) && !own.contains(&key) && owner(key).is_some()
        })
        .map(|(i, _)| i)
        .collect();
    if foreign.is_empty() {
        return Cow::Borrowed(node);
    }
    for &i in &foreign {
        let (k, v) = &entries[i];
        let key = de::key_text(k);
        let other = owner(key).map_or("another platform", |h| h.display_name());
        let message = match v.kind {
            NodeKind::Seq(_) => format!("`{key}` belong to {other} campaigns; this account is {platform}"),
            _ => format!(
                "`{key}` is {} field; this account is {platform}",
                crate::platforms::with_article(other)
            ),
        };
        de::record(
            DeError::with_code(Code::InvalidValue, message)
                .hint(super::rules::counterpart(platform, key))
                .at(k.span),
        );
    }
    let mut kept = node.clone();
    if let NodeKind::Map(entries) = &mut kept.kind {
        let mut i = 0;
        entries.retain(|_| {
            let keep = !foreign.contains(&i);
            i += 1;
            keep
        });
    }
    Cow::Owned(kept)
}
