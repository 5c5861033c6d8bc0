//! Google Ads campaigns as YAML for `adsctl import`: ad groups, keywords, negative keywords and RSAs nested.

use serde_yaml::{Mapping, Value as Yaml};

use crate::import::{map_insert, plain_fields, s, yaml_of, Tree};
use crate::model::{Account, Currency, Kind, Resource, Value};

pub fn campaign(c: &Resource, tree: &Tree, account: &Account) -> Mapping {
    let cur = account.currency;
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    plain_fields(
        &mut m,
        c,
        cur,
        &["bidding.", "budget.", "labels", "conversion_goals", "shopping."],
    );
    let mut budget = Mapping::new();
    if let Some(v) = c.fields.get("budget.daily") {
        map_insert(&mut budget, "daily", yaml_of(v, cur));
    }
    if let Some(Value::Ref(a)) = c.fields.get("budget.shared") {
        map_insert(&mut budget, "shared", s(a.name().unwrap_or_default()));
    }
    if let Some(v) = c.fields.get("budget.delivery_method") {
        map_insert(&mut budget, "delivery_method", yaml_of(v, cur));
    }
    if !budget.is_empty() {
        map_insert(&mut m, "budget", Yaml::Mapping(budget));
    }
    if let Some(strategy) = c.fields.get("bidding.strategy").and_then(Value::as_str) {
        let mut inner = Mapping::new();
        for (k, v) in c
            .fields
            .iter()
            .filter(|(k, _)| k.starts_with("bidding.") && *k != "bidding.strategy")
        {
            map_insert(&mut inner, k.trim_start_matches("bidding."), yaml_of(v, cur));
        }
        let mut b = Mapping::new();
        map_insert(&mut b, strategy, Yaml::Mapping(inner));
        map_insert(&mut m, "bidding", Yaml::Mapping(b));
    }
    if let Some(Value::Set(l)) = c.fields.get("labels") {
        if !l.is_empty() {
            map_insert(&mut m, "labels", yaml_of(&Value::Set(l.clone()), cur));
        }
    }
    // The conversions bid on, by name (the `conversions:` block imported beside declares them); none: the
    // account's goals, the default, so nothing is written.
    if let Some(Value::Set(g)) = c.fields.get("conversion_goals") {
        let names: Vec<Yaml> = g
            .iter()
            .filter_map(|v| match v {
                Value::Ref(a) => a.name().map(s),
                _ => None,
            })
            .collect();
        if !names.is_empty() {
            map_insert(&mut m, "conversion_goals", Yaml::Sequence(names));
        }
    }
    super::pmax::import_campaign(c, tree, &mut m);
    let negatives = negative_keywords(tree.children(&c.address, Kind::NegativeKeyword));
    if !negatives.is_empty() {
        map_insert(&mut m, "negative_keywords", Yaml::Sequence(negatives));
    }
    let groups: Vec<Yaml> = tree
        .children(&c.address, Kind::AdGroup)
        .into_iter()
        .map(|g| Yaml::Mapping(google_ad_group(g, tree, cur)))
        .collect();
    if !groups.is_empty() {
        map_insert(&mut m, "ad_groups", Yaml::Sequence(groups));
    }
    m
}

fn keyword_identity(r: &Resource) -> (String, String) {
    let name = r.address.name().unwrap_or_default();
    let (t, mt) = name.rsplit_once(':').unwrap_or((name, "broad"));
    let text = r.fields.get("text").and_then(Value::as_str).unwrap_or(t).to_string();
    let mt = r
        .fields
        .get("match_type")
        .and_then(Value::as_str)
        .unwrap_or(mt)
        .to_string();
    (text, mt)
}

fn negative_keywords(rs: Vec<&Resource>) -> Vec<Yaml> {
    rs.into_iter()
        .map(|k| {
            let (text, mt) = keyword_identity(k);
            let mut m = Mapping::new();
            map_insert(&mut m, "text", s(&text));
            map_insert(&mut m, "match", s(&mt));
            Yaml::Mapping(m)
        })
        .collect()
}

fn ad_texts(v: Option<&Value>) -> Yaml {
    let items = match v {
        Some(Value::List(xs)) => xs.clone(),
        _ => Vec::new(),
    };
    Yaml::Sequence(
        items
            .iter()
            .map(|x| match x {
                Value::Map(m) => {
                    let text = m.get("text").and_then(Value::as_str).unwrap_or_default();
                    let pin = m
                        .get("pinned")
                        .and_then(Value::as_str)
                        .and_then(|p| p.rsplit('_').next())
                        .and_then(|n| n.parse::<u64>().ok());
                    match pin {
                        Some(n) => {
                            let mut o = Mapping::new();
                            map_insert(&mut o, "text", s(text));
                            map_insert(&mut o, "pin", Yaml::Number(n.into()));
                            Yaml::Mapping(o)
                        }
                        None => s(text),
                    }
                }
                other => s(other.as_str().unwrap_or_default()),
            })
            .collect(),
    )
}

fn google_ad_group(g: &Resource, tree: &Tree, cur: Currency) -> Mapping {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(g.address.name().unwrap_or_default()));
    plain_fields(&mut m, g, cur, &[]);
    let keywords: Vec<Yaml> = tree
        .children(&g.address, Kind::Keyword)
        .into_iter()
        .map(|k| {
            let (text, mt) = keyword_identity(k);
            let mut km = Mapping::new();
            map_insert(&mut km, "text", s(&text));
            map_insert(&mut km, "match", s(&mt));
            plain_fields(&mut km, k, cur, &["text", "match_type"]);
            Yaml::Mapping(km)
        })
        .collect();
    if !keywords.is_empty() {
        map_insert(&mut m, "keywords", Yaml::Sequence(keywords));
    }
    let negatives = negative_keywords(tree.children(&g.address, Kind::NegativeKeyword));
    if !negatives.is_empty() {
        map_insert(&mut m, "negative_keywords", Yaml::Sequence(negatives));
    }
    let ads: Vec<Yaml> = tree
        .children(&g.address, Kind::Ad)
        .into_iter()
        .map(|a| {
            let mut am = Mapping::new();
            if let Some(v) = a.fields.get("status") {
                map_insert(&mut am, "status", yaml_of(v, cur));
            }
            let mut rsa = Mapping::new();
            map_insert(&mut rsa, "headlines", ad_texts(a.fields.get("headlines")));
            map_insert(&mut rsa, "descriptions", ad_texts(a.fields.get("descriptions")));
            for k in ["final_url", "path1", "path2"] {
                if let Some(v) = a.fields.get(k) {
                    map_insert(&mut rsa, k, yaml_of(v, cur));
                }
            }
            map_insert(&mut am, "responsive_search", Yaml::Mapping(rsa));
            Yaml::Mapping(am)
        })
        .collect();
    if !ads.is_empty() {
        map_insert(&mut m, "ads", Yaml::Sequence(ads));
    }
    m
}

#[cfg(test)]
mod tests {
    use serde_yaml::Value as Yaml;

    use crate::import::{render, s};
    use crate::model::{Account, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Resource, Value};

    fn account(platform: Platform) -> Account {
        Account {
            name: "acme".into(),
            platform,
            platform_id: if platform == Platform::Meta {
                "act_1".into()
            } else {
                "1234567890".into()
            },
            login_customer_id: None,
            currency: Currency::from_code("USD").unwrap(),
            time_zone: None,
            on_removed: RemovalPolicy::Pause,
            guardrails: Guardrails::default(),
            endpoint: Some("http://127.0.0.1:1".into()),
        }
    }

    fn res(addr: &str, kind: Kind, fields: Vec<(&str, Value)>) -> Resource {
        let mut r = Resource::new(addr.parse().unwrap(), kind);
        r.fields = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        r
    }

    #[test]
    fn google_account_renders_one_file_per_campaign() {
        let m = |x| Value::Money(Money::from_micros(x));
        let live = vec![
            res(
                "acme/campaign/Spring Sale",
                Kind::Campaign,
                vec![
                    ("status", Value::str("enabled")),
                    ("channel", Value::str("search")),
                    ("budget.daily", m(50_000_000)),
                    ("bidding.strategy", Value::str("maximize_conversions")),
                    ("bidding.target_cpa", m(12_500_000)),
                    ("network.google_search", Value::Bool(true)),
                    ("labels", Value::Set(Default::default())),
                ],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes",
                Kind::AdGroup,
                vec![("default_cpc", m(1_200_000))],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes/keyword/running shoes:phrase",
                Kind::Keyword,
                vec![
                    ("status", Value::str("enabled")),
                    ("text", Value::str("running shoes")),
                    ("match_type", Value::str("phrase")),
                ],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes/ad/2",
                Kind::Ad,
                vec![(
                    "headlines",
                    Value::List(vec![Value::Map([("text".to_string(), Value::str("B"))].into())]),
                )],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes/ad/1",
                Kind::Ad,
                vec![
                    ("status", Value::str("enabled")),
                    (
                        "headlines",
                        Value::List(vec![Value::Map(
                            [
                                ("text".to_string(), Value::str("A")),
                                ("pinned".to_string(), Value::str("headline_1")),
                            ]
                            .into(),
                        )]),
                    ),
                    ("final_url", Value::Url("https://example.com/".into())),
                ],
            ),
            res(
                "acme/campaign/Other",
                Kind::Campaign,
                vec![("budget.shared", Value::reference("acme/budget/Pool".parse().unwrap()))],
            ),
            res("acme/budget/Pool", Kind::Budget, vec![("amount", m(90_000_000))]),
        ];
        let files = render(&account(Platform::GoogleAds), &live).unwrap();
        let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "adsctl.yaml",
                "budgets.yaml",
                "campaigns/spring-sale.yaml",
                "campaigns/other.yaml"
            ]
        );
        let spring: Yaml = serde_yaml::from_str(&files[2].contents).unwrap();
        let c = &spring["campaigns"][0];
        assert_eq!(c["name"], s("Spring Sale"));
        assert_eq!(c["budget"]["daily"], s("50.00"));
        assert_eq!(c["bidding"]["maximize_conversions"]["target_cpa"], s("12.50"));
        assert_eq!(c["network"]["google_search"], Yaml::Bool(true));
        assert!(c.get("labels").is_none());
        let g = &c["ad_groups"][0];
        assert_eq!(g["default_cpc"], s("1.20"));
        assert_eq!(g["keywords"][0]["match"], s("phrase"));
        assert_eq!(g["keywords"][0]["status"], s("enabled"));
        assert!(g["keywords"][0].get("match_type").is_none());
        // Ads keep their positions.
        assert_eq!(
            g["ads"][0]["responsive_search"]["headlines"][0]["pin"],
            Yaml::Number(1.into())
        );
        assert_eq!(g["ads"][1]["responsive_search"]["headlines"][0], s("B"));
        let other: Yaml = serde_yaml::from_str(&files[3].contents).unwrap();
        assert_eq!(other["campaigns"][0]["budget"]["shared"], s("Pool"));
        let project: Yaml = serde_yaml::from_str(&files[0].contents).unwrap();
        assert_eq!(project["accounts"]["acme"]["customer_id"], s("1234567890"));
        assert_eq!(project["accounts"]["acme"]["endpoint"], s("http://127.0.0.1:1"));
    }
}
