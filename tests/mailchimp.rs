//! Mailchimp through the real binary against the in-process emulator, beyond the conformance suite: what another
//! client made in the audience is never touched, a tag is the source of Google and Meta audiences, addresses never
//! leave memory, and a sent campaign is settled.

mod common;

use adsctl::emulator::platform::defaults;
use common::emulated::Emulated;
use serde_json::{json, Value};

const PROJECT: &str = "accounts:
  acme-mail:
    platform: mailchimp
    list_id: 57afe96172
    currency: USD
    on_removed: remove
  acme-search:
    platform: google_ads
    customer_id: 123-456-7890
    currency: USD
  acme-social:
    platform: meta
    ad_account_id: act_1234567890
    currency: USD
";

const AUDIENCES: &str = "audiences:
  - name: Newsletter
    accounts: [acme-mail]
    customer_file: { path: data/subscribers.csv, column: email }
    status_column: consent
    merge_fields: { FNAME: first_name }
  - name: Newsletter seed
    accounts: [acme-search, acme-social]
    source: { account: acme-mail, audience: Newsletter }
";

const CSV: &str = "email,first_name,consent
alice@mailchimp-test.example,Alice,subscribed
Bob.Smith@Mailchimp-Test.example,Bob,subscribed
carol@mailchimp-test.example,Carol,pending
";

const CAMPAIGNS: &str = "campaigns:
  - name: Spring newsletter
    account: acme-mail
    subject: Spring is here
    from_name: Acme Outdoor
    reply_to: news@acme.example
    recipients: Newsletter
    html: content/spring.html
";

/// The project: a Mailchimp tag feeding Google and Meta audiences, and an e-mail campaign to the tag.
fn project() -> Emulated {
    Emulated::new(&[
        ("adsctl.yaml", PROJECT),
        ("audiences.yaml", AUDIENCES),
        ("campaigns.yaml", CAMPAIGNS),
        ("data/subscribers.csv", CSV),
        (
            "content/spring.html",
            "<html><body><p>Hello *|FNAME|*</p></body></html>\n",
        ),
    ])
}

/// Mailchimp's API as another client (the web interface, a colleague's script).
fn api(e: &Emulated, method: &str, path: &str, body: Value) -> Value {
    let url = format!("{}/3.0{path}", e.url());
    e.rt.block_on(async {
        let http = reqwest::Client::new();
        let req = match method {
            "GET" => http.get(&url),
            "PATCH" => http.patch(&url).json(&body),
            _ => http.post(&url).json(&body),
        };
        let resp = req.bearer_auth(defaults::MAILCHIMP_API_KEY).send().await.unwrap();
        assert!(resp.status().is_success(), "{method} {path}: {}", resp.status());
        if resp.status().as_u16() == 204 {
            Value::Null
        } else {
            resp.json().await.unwrap()
        }
    })
}

/// Actions other than no-ops, by address.
fn acted(plan: &Value) -> Vec<(String, String)> {
    plan["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_tag_feeds_google_and_meta_audiences_and_addresses_never_leave_memory() {
    let e = project();
    let s = e.state.clone();
    // the first apply makes the tag; the audiences it feeds are made without members (it did not exist yet) …
    e.run(&s, &["apply", "--auto-approve"], 0);
    // … and the next plan knows them: the tag's two subscribed contacts (the pending one is not a subscriber)
    let plan = e.plan(&s);
    let changed: Vec<(String, String)> = acted(&plan);
    assert_eq!(
        changed,
        vec![
            ("acme-search/audience/Newsletter seed".to_string(), "update".to_string()),
            ("acme-social/audience/Newsletter seed".to_string(), "update".to_string()),
        ],
        "{plan}"
    );
    e.run(&s, &["apply", "--auto-approve"], 0);
    e.run(&s, &["plan", "--detailed-exitcode"], 0);

    // a new subscriber in the file: the tag gains them, then the audiences it feeds
    let csv = e.dir.join("data/subscribers.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("dmitri@mailchimp-test.example,Dmitri,subscribed\n");
    std::fs::write(&csv, text).unwrap();
    e.run(&s, &["apply", "--auto-approve"], 0);
    let plan = e.plan(&s);
    assert_eq!(acted(&plan).len(), 2, "the fed audiences follow the tag: {plan}");
    e.run(&s, &["apply", "--auto-approve"], 0);
    e.run(&s, &["plan", "--detailed-exitcode"], 0);

    // the new contact got the file's consent status and merge field
    let hash = adsctl::platforms::mailchimp::lower::subscriber_hash("dmitri@mailchimp-test.example");
    let m = api(&e, "GET", &format!("/lists/57afe96172/members/{hash}"), Value::Null);
    assert_eq!(m["status"], "subscribed");
    assert_eq!(m["merge_fields"]["FNAME"], "Dmitri");
    let m = api(
        &e,
        "GET",
        &format!(
            "/lists/57afe96172/members/{}",
            adsctl::platforms::mailchimp::lower::subscriber_hash("carol@mailchimp-test.example")
        ),
        Value::Null,
    );
    assert_eq!(m["status"], "pending", "the file's consent status");

    // no address in any output or state file
    let out = e.run(&s, &["plan", "--json"], 0);
    let mut texts = vec![out];
    for f in common::files_below(&s) {
        texts.push(String::from_utf8_lossy(&std::fs::read(s.join(f)).unwrap()).into_owned());
    }
    for t in &texts {
        for a in ["alice@", "bob.smith@", "carol@", "dmitri@"] {
            assert!(
                !t.to_lowercase().contains(a),
                "an address ({a}) in an output or state file"
            );
        }
    }
}

#[test]
fn a_colleagues_tag_and_campaign_are_never_touched_and_a_sent_campaign_is_settled() {
    let e = project();
    let s = e.state.clone();
    e.run(&s, &["apply", "--auto-approve"], 0);
    // a colleague's tag and campaign in the same audience (no marker)
    api(
        &e,
        "POST",
        "/lists/57afe96172/segments",
        json!({"name": "Colleague's tag", "static_segment": []}),
    );
    let theirs = api(
        &e,
        "POST",
        "/campaigns",
        json!({"type": "regular", "recipients": {"list_id": "57afe96172"},
               "settings": {"title": "Colleague's campaign", "subject_line": "Hi", "from_name": "Col",
                            "reply_to": "col@acme.example"}}),
    );
    let id = theirs["id"].as_str().unwrap().to_string();
    let before = api(&e, "GET", &format!("/campaigns/{id}"), Value::Null);
    for state in [s.clone(), e.state.with_extension("fresh")] {
        let plan = e.plan(&state);
        assert!(
            acted(&plan).iter().all(|(a, _)| !a.contains("Colleague")),
            "someone else's objects are not adsctl's: {plan}"
        );
        e.run(&state, &["apply", "--auto-approve"], 0);
    }
    let after = api(&e, "GET", &format!("/campaigns/{id}"), Value::Null);
    assert_eq!(before["settings"], after["settings"], "their campaign was changed");
    let tags = api(
        &e,
        "GET",
        "/lists/57afe96172/segments?type=static&count=1000",
        Value::Null,
    );
    assert!(
        tags["segments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Colleague's tag"),
        "their tag is still there"
    );

    // our campaign is sent (from Mailchimp's interface): it cannot change any more, and leaving the YAML under
    // `on_removed: pause` leaves it as it is
    let ours = api(&e, "GET", "/campaigns?count=1000", Value::Null)["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["settings"]["title"]
                .as_str()
                .unwrap_or("")
                .starts_with("Spring newsletter")
        })
        .and_then(|c| c["id"].as_str().map(str::to_string))
        .unwrap();
    api(&e, "POST", &format!("/campaigns/{ours}/actions/send"), json!({}));
    e.run(&s, &["plan", "--detailed-exitcode"], 0);
    let yaml = std::fs::read_to_string(e.dir.join("adsctl.yaml")).unwrap();
    std::fs::write(
        e.dir.join("adsctl.yaml"),
        yaml.replace("on_removed: remove", "on_removed: pause"),
    )
    .unwrap();
    std::fs::write(e.dir.join("campaigns.yaml"), "campaigns: []\n").unwrap();
    let plan = e.plan(&s);
    assert_eq!(
        acted(&plan),
        Vec::<(String, String)>::new(),
        "a sent campaign is settled: {plan}"
    );
}

/// Two runners from fresh states apply at once: one applies, the other waits for its lease (a static segment) and
/// finds nothing to do; no tag or campaign is made twice.
#[test]
fn two_runners_at_once_never_duplicate() {
    for round in 0..3 {
        let e = project();
        e.apply_twice_at_once(round);
        let tags = api(
            &e,
            "GET",
            "/lists/57afe96172/segments?type=static&count=1000",
            Value::Null,
        );
        let ours: Vec<&Value> = tags["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["name"].as_str().unwrap_or("").starts_with("Newsletter "))
            .collect();
        assert_eq!(ours.len(), 1, "round {round}: tags {ours:#?}");
        let campaigns = api(&e, "GET", "/campaigns?count=1000", Value::Null);
        let ours: Vec<&Value> = campaigns["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["settings"]["title"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Spring newsletter")
            })
            .collect();
        assert_eq!(ours.len(), 1, "round {round}: campaigns {ours:#?}");
    }
}

const MAIL_ONLY: &str = "accounts:
  acme-mail:
    platform: mailchimp
    list_id: 57afe96172
    currency: USD
    on_removed: remove
";

const LISTS: &str = "lists:
  - account: acme-mail
    audience_name: Acme news
    permission_reminder: You signed up at acme.example.
    double_optin: true
    contact: { company: Acme Inc., city: Springfield, country: us }
    merge_fields:
      - tag: FNAME
        label: First name
        type: text
      - tag: PLAN
        label: Plan
        type: dropdown
        choices: [free, pro]
        default_value: free
";

const LIST: &str = "/lists/57afe96172";

/// The audience's settings and merge fields through their whole life: plan, apply, edits, drift made directly,
/// a fresh runner, a type change held back, removal by the account's policy with a colleague's merge field
/// untouched, the audience itself never removed, and an import that plans nothing.
#[test]
fn audience_settings_and_merge_fields_follow_the_yaml_and_the_audience_is_never_removed() {
    let e = Emulated::new(&[("adsctl.yaml", MAIL_ONLY), ("lists.yaml", LISTS)]);
    let s = e.state.clone();
    // a colleague's merge field, made directly in the audience
    api(
        &e,
        "POST",
        &format!("{LIST}/merge-fields"),
        json!({"name": "Shoe size", "type": "number", "tag": "SHOE"}),
    );
    let addr = |k: &str, n: &str| format!("acme-mail/{k}/{n}");
    let mut first = acted(&e.plan(&s));
    first.sort();
    assert_eq!(
        first,
        [
            (addr("list", "settings"), "update".to_string()),
            (addr("merge_field", "FNAME"), "update".to_string()),
            (addr("merge_field", "PLAN"), "create".to_string()),
        ]
    );
    e.run(&s, &["apply", "--auto-approve"], 0);
    assert_eq!(acted(&e.plan(&s)), []);
    let list = api(&e, "GET", LIST, json!(null));
    assert_eq!(list["name"], "Acme news");
    assert_eq!(list["double_optin"], true);
    assert_eq!(list["contact"]["country"], "US");
    assert_eq!(
        list["contact"]["address1"], "1 Loopback Way",
        "a part the YAML leaves out is kept"
    );

    // an edit: exactly what changed is planned
    let edited = LISTS
        .replace("double_optin: true", "double_optin: false")
        .replace("label: Plan\n", "label: Plan name\n");
    std::fs::write(e.dir.join("lists.yaml"), &edited).unwrap();
    let plan = e.plan(&s);
    let mut changed = acted(&plan);
    changed.sort();
    assert_eq!(
        changed,
        [
            (addr("list", "settings"), "update".to_string()),
            (addr("merge_field", "PLAN"), "update".to_string()),
        ]
    );
    let fields: Vec<String> = plan["accounts"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "update")
        .flat_map(|c| {
            c["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["field"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(fields, ["double_optin", "label"], "{plan}");
    e.run(&s, &["apply", "--auto-approve"], 0);
    assert_eq!(acted(&e.plan(&s)), []);

    // drift made directly (the reminder changed in Mailchimp): shown, and put back
    let mut whole = api(&e, "GET", LIST, json!(null));
    whole["permission_reminder"] = json!("Changed in the web app");
    for k in ["id", "web_id", "stats", "date_created", "_links"] {
        whole.as_object_mut().unwrap().remove(k);
    }
    api(&e, "PATCH", LIST, whole);
    let plan = e.plan(&s);
    assert_eq!(acted(&plan), [(addr("list", "settings"), "update".to_string())]);
    assert!(plan.to_string().contains("Changed in the web app"), "{plan}");
    e.run(&s, &["apply", "--auto-approve"], 0);
    assert_eq!(
        api(&e, "GET", LIST, json!(null))["permission_reminder"],
        "You signed up at acme.example."
    );

    // a fresh runner recognises everything: nothing to do
    assert_eq!(acted(&e.plan(&s.with_extension("fresh"))), []);

    // a changed type is a replacement, held back without --allow-replace
    std::fs::write(
        e.dir.join("lists.yaml"),
        edited.replace("type: dropdown", "type: radio"),
    )
    .unwrap();
    let out = e.run(&s, &["apply", "--auto-approve"], 1);
    assert!(out.contains("--allow-replace"), "{out}");
    assert_eq!(
        api(&e, "GET", &format!("{LIST}/merge-fields"), json!(null))["merge_fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["tag"] == "PLAN")
            .unwrap()["type"],
        "dropdown"
    );

    // PLAN leaves the YAML (on_removed: remove): deleted; the colleague's SHOE is never touched
    let without_plan = &edited[..edited.find("      - tag: PLAN").unwrap()];
    std::fs::write(e.dir.join("lists.yaml"), without_plan).unwrap();
    assert_eq!(
        acted(&e.plan(&s)),
        [(addr("merge_field", "PLAN"), "remove".to_string())]
    );
    e.run(&s, &["apply", "--auto-approve"], 0);
    let tags: Vec<String> = api(&e, "GET", &format!("{LIST}/merge-fields"), json!(null))["merge_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["tag"].as_str().unwrap().to_string())
        .collect();
    assert!(
        tags.contains(&"SHOE".to_string()) && !tags.contains(&"PLAN".to_string()),
        "{tags:?}"
    );

    // the whole entry leaves the YAML: the audience is not removed (its settings stay, no longer managed)
    std::fs::write(e.dir.join("lists.yaml"), "lists: []\n").unwrap();
    let plan = e.plan(&s);
    let gone = acted(&plan);
    assert!(
        gone.contains(&(addr("list", "settings"), "orphan".to_string())),
        "{gone:?}"
    );
    assert!(
        !gone.iter().any(|(a, act)| a.contains("/list/") && act == "remove"),
        "{gone:?}"
    );
    e.run(&s, &["apply", "--auto-approve"], 0);
    let list = api(&e, "GET", LIST, json!(null));
    assert_eq!(list["name"], "Acme news");
    assert_eq!(list["permission_reminder"], "You signed up at acme.example.");

    // import of the audience as it now is, planned from a fresh runner: nothing to do
    let out = e.dir.with_extension("imported");
    let o = e
        .cmd(&s)
        .args(["import", "acme-mail", "--out"])
        .arg(&out)
        .arg("--dir")
        .arg(&e.dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lists = std::fs::read_to_string(out.join("lists.yaml")).unwrap();
    assert!(lists.contains("SHOE") && lists.contains("Acme news"), "{lists}");
    let o = e
        .cmd(&s.with_extension("imported"))
        .args(["plan", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(acted(&plan), [], "{plan}");
}
