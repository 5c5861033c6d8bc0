//! Meta campaigns as YAML for `adsctl import`: ad sets with their targeting and ads nested.

use serde_yaml::{Mapping, Value as Yaml};

use crate::import::{map_insert, plain_fields, put_path, s, yaml_of, Tree};
use crate::model::{Account, Kind, Resource, Value};

pub fn campaign(c: &Resource, tree: &Tree, account: &Account) -> Mapping {
    let cur = account.currency;
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    plain_fields(&mut m, c, cur, &["catalog_id"]);
    // catalog ads: the catalog by the name the imported `product_catalogs:` entry gives it
    if let Some(id) = c.fields.get("catalog_id").and_then(|v| v.as_str()) {
        map_insert(&mut m, "catalog", s(&super::catalog::import_catalog_name(id)));
    }
    let sets: Vec<Yaml> = tree
        .children(&c.address, Kind::AdSet)
        .into_iter()
        .map(|a| {
            let mut am = Mapping::new();
            map_insert(&mut am, "name", s(a.address.name().unwrap_or_default()));
            plain_fields(
                &mut am,
                a,
                cur,
                &["targeting.age_min", "targeting.age_max", "promoted_object"],
            );
            // the promoted object as the YAML says it: `event`, and a custom conversion by its name
            if let Some(Value::Map(po)) = a.fields.get("promoted_object") {
                let mut pm = Mapping::new();
                for (k, v) in po.iter() {
                    let key = match k.as_str() {
                        "custom_event_type" => "event",
                        // catalog ads: the ad set's own `product_set:`
                        "product_set" => {
                            map_insert(&mut am, "product_set", yaml_of(v, cur));
                            continue;
                        }
                        other => other,
                    };
                    map_insert(&mut pm, key, yaml_of(v, cur));
                }
                // a promoted object names a pixel (a catalog ad set's product set alone is not one)
                if pm.contains_key("pixel_id") {
                    map_insert(&mut am, "promoted_object", Yaml::Mapping(pm));
                }
            }
            let mut age = Mapping::new();
            if let Some(v) = a.fields.get("targeting.age_min") {
                map_insert(&mut age, "min", yaml_of(v, cur));
            }
            if let Some(v) = a.fields.get("targeting.age_max") {
                map_insert(&mut age, "max", yaml_of(v, cur));
            }
            if !age.is_empty() {
                put_path(&mut am, "targeting.age", Yaml::Mapping(age));
            }
            let ads: Vec<Yaml> = tree
                .children(&a.address, Kind::Ad)
                .into_iter()
                .map(|ad| {
                    let mut adm = Mapping::new();
                    map_insert(&mut adm, "name", s(ad.address.name().unwrap_or_default()));
                    // a dynamic creative's product set is its ad set's (the lowering derives it)
                    plain_fields(&mut adm, ad, cur, &["creative.product_set"]);
                    Yaml::Mapping(adm)
                })
                .collect();
            if !ads.is_empty() {
                map_insert(&mut am, "ads", Yaml::Sequence(ads));
            }
            Yaml::Mapping(am)
        })
        .collect();
    if !sets.is_empty() {
        map_insert(&mut m, "ad_sets", Yaml::Sequence(sets));
    }
    m
}

#[cfg(test)]
mod tests {
    use serde_yaml::Value as Yaml;

    use crate::import::{render, s};
    use crate::model::{Account, Currency, Guardrails, Kind, Platform, RemovalPolicy, Resource, Value};

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
    fn meta_ad_sets_nest_targeting() {
        let live = vec![
            res(
                "acme/campaign/Social",
                Kind::Campaign,
                vec![
                    ("objective", Value::str("outcome_traffic")),
                    ("special_ad_categories", Value::Set(Default::default())),
                ],
            ),
            res(
                "acme/campaign/Social/ad_set/US",
                Kind::AdSet,
                vec![
                    ("targeting.countries", Value::Set([Value::str("US")].into())),
                    ("targeting.age_min", Value::Int(25)),
                    ("targeting.age_max", Value::Int(45)),
                ],
            ),
            res(
                "acme/campaign/Social/ad_set/US/ad/Shoes",
                Kind::Ad,
                vec![
                    ("creative.page_id", Value::str("1122")),
                    ("creative.link", Value::Url("https://example.com".into())),
                ],
            ),
        ];
        let files = render(&account(Platform::Meta), &live).unwrap();
        let doc: Yaml = serde_yaml::from_str(&files[1].contents).unwrap();
        let c = &doc["campaigns"][0];
        assert_eq!(c["special_ad_categories"], Yaml::Sequence(vec![]));
        let set = &c["ad_sets"][0];
        assert_eq!(set["targeting"]["age"]["min"], Yaml::Number(25.into()));
        assert_eq!(set["targeting"]["countries"][0], s("US"));
        assert_eq!(set["ads"][0]["creative"]["page_id"], s("1122"));
        let project: Yaml = serde_yaml::from_str(&files[0].contents).unwrap();
        assert_eq!(project["accounts"]["acme"]["ad_account_id"], s("act_1"));
    }
}
