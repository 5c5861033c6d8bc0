//! The dashboard in a real browser (issue 26): Debian's headless Chromium against `adsctl watch --emulator`.
//! Load the page, see a card per platform and per account, check what assistive technology and a keyboard need
//! (labels, contrast, every action reachable with Tab), then act: a viewer's token is refused and nothing
//! happens; an operator's "Reconcile now", pressed from the keyboard, runs and its result is announced in the
//! card. A screenshot is saved; `ADSCTL_UPDATE_SCREENSHOTS=1` writes it to `docs/img/dashboard.png` (the
//! committed one), otherwise to a temporary directory: tests never write into the checkout unasked.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use headless_chrome::Tab;

fn adsctl(home: &Path) -> Command {
    common::adsctl_at_home(home, &[])
}

fn create_token(home: &Path, dir: &Path, name: &str, role: &str) -> String {
    let o = adsctl(home)
        .args(["api-token", "create", name, "--role", role, "--dir"])
        .arg(dir)
        .output()
        .expect("adsctl runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Evaluate `js` in the page (an expression) and return its value as JSON.
fn eval(tab: &Tab, js: &str) -> serde_json::Value {
    let wrapped = format!("JSON.stringify((function(){{ return {js}; }})())");
    let v = tab.evaluate(&wrapped, false).unwrap_or_else(|e| panic!("{js}: {e}"));
    let text = v.value.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// Wait until `js` is truthy in the page; the page's text on a timeout.
fn wait_for(tab: &Tab, js: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let v = eval(tab, js);
        if v.as_bool() == Some(true) {
            return;
        }
        if Instant::now() > deadline {
            let text = eval(tab, "document.body.innerText");
            panic!("{what}: not after 90 s; the page says: {text}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The text of the live region of `account`'s card.
fn result_of(tab: &Tab, account: &str) -> String {
    eval(
        tab,
        &format!("document.querySelector('section.card[data-account=\"{account}\"] .result').textContent"),
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

fn reconciles(rt: &tokio::runtime::Runtime, addr: &str, token: &str, account: &str) -> u64 {
    rt.block_on(async {
        let v: serde_json::Value = reqwest::Client::new()
            .get(format!("http://{addr}/api/v1/status"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == account)
            .and_then(|a| a["reconciles"].as_u64())
            .unwrap()
    })
}

/// Press Tab until the focused element is the button `label` of `account`'s card; the stops on the way.
fn tab_to(tab: &Tab, account: &str, label: &str) -> Vec<String> {
    let mut stops = Vec::new();
    for _ in 0..80 {
        tab.press_key("Tab").unwrap();
        let here = eval(
            tab,
            "(function(){ var e = document.activeElement; var c = e.closest('section.card'); \
             return (c ? c.getAttribute('data-account') + ': ' : '') + e.tagName + ' ' + (e.textContent || e.id).trim(); })()",
        );
        let here = here.as_str().unwrap_or_default().to_string();
        if here == format!("{account}: BUTTON {label}") {
            return stops;
        }
        stops.push(here);
    }
    panic!("{label} of {account} is not reachable with Tab; the stops: {stops:#?}");
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let (tmp, dir) = common::example("quickstart");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let viewer = create_token(&home, &dir, "wallboard", "viewer");
    let operator = create_token(&home, &dir, "on-call", "operator");

    let mut cmd = adsctl(&home);
    cmd.args(["watch", "--emulator", "--interval", "1h"]).arg(&dir).args([
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
    ]);
    let mut daemon = common::Daemon::spawn(cmd);
    let addr = daemon.addr.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The status needs a token once tokens exist; wait through the API with the viewer's.
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let v: serde_json::Value = http
                .get(format!("http://{addr}/api/v1/status"))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let accounts = v["accounts"].as_array().cloned().unwrap_or_default();
            if accounts.len() == 2 && accounts.iter().all(|a| a["status"] == "in_sync") {
                break;
            }
            assert!(Instant::now() < deadline, "the quickstart is not in sync: {v:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    let browser = common::browser::launch(&tmp.path().join("chromium-profile"));
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(60));
    tab.navigate_to(&format!("http://{addr}/")).unwrap();
    tab.wait_until_navigated().unwrap();

    // The cards: one per platform, one per account, with what the seed's dashboard shows.
    assert_eq!(tab.wait_for_elements("section.pcard").unwrap().len(), 2);
    assert_eq!(tab.wait_for_elements("section.card").unwrap().len(), 2);
    let platforms = eval(
        &tab,
        "Array.from(document.querySelectorAll('section.pcard h3')).map(function(h){ return h.textContent; })",
    );
    assert_eq!(platforms, serde_json::json!(["Google Ads", "Meta"]));
    let google = eval(
        &tab,
        "document.querySelector('section.pcard[data-platform=google_ads]').innerText",
    );
    let google = google.as_str().unwrap_or_default();
    for row in [
        "Accounts",
        "Campaigns",
        "Spend (30 d)",
        "Impressions (30 d)",
        "Last sync",
        "Token expiry",
    ] {
        assert!(google.contains(row), "{row}: {google}");
    }
    // The emulator's credentials are in use (as every `--emulator` command's): both platforms are active, green.
    for p in ["google_ads", "meta"] {
        let badge = eval(
            &tab,
            &format!(
                "(function(b){{ return b.textContent + ' ' + b.className; }})\
                 (document.querySelector('section.pcard[data-platform={p}] .badge'))"
            ),
        );
        assert_eq!(badge, "active badge ok", "{p}");
    }
    // The script ran: the token box is shown (it is hidden without the script, whose forms post as they are).
    wait_for(
        &tab,
        "!document.getElementById('tokenbar').hidden",
        "the token box shown by the script",
    );

    // Accessibility: every control is named, every text of a badge, pill and button is legible (WCAG AA 4.5:1).
    let unnamed = eval(
        &tab,
        "Array.from(document.querySelectorAll('input,button,a')).filter(function(e){ \
           var named = (e.textContent || '').trim() || e.getAttribute('aria-label') || \
             (e.id && document.querySelector('label[for=\"' + e.id + '\"]')); return !named; \
         }).map(function(e){ return e.outerHTML; })",
    );
    assert_eq!(unnamed, serde_json::json!([]), "controls without a name");
    let low_contrast = eval(
        &tab,
        "(function(){ \
           function lum(c){ var m = c.match(/\\d+(\\.\\d+)?/g).slice(0,3).map(Number).map(function(v){ v/=255; \
             return v <= 0.03928 ? v/12.92 : Math.pow((v+0.055)/1.055, 2.4); }); \
             return 0.2126*m[0] + 0.7152*m[1] + 0.0722*m[2]; } \
           function bg(e){ while (e) { var b = getComputedStyle(e).backgroundColor; \
             if (b && b !== 'rgba(0, 0, 0, 0)' && b !== 'transparent') { return b; } e = e.parentElement; } \
             return 'rgb(255, 255, 255)'; } \
           return Array.from(document.querySelectorAll('.badge,.pill,.btn,dt,.muted,.platform,footer a')).map(function(e){ \
             var a = lum(getComputedStyle(e).color), b = lum(bg(e)); \
             var r = (Math.max(a,b) + 0.05) / (Math.min(a,b) + 0.05); \
             return { text: e.textContent.trim().slice(0, 30), ratio: Math.round(r*100)/100 }; \
           }).filter(function(x){ return x.ratio < 4.5; }); })()",
    );
    assert_eq!(low_contrast, serde_json::json!([]), "text under 4.5:1");

    // A viewer's token: the action is refused, said so in the card, and nothing happens.
    let before = reconciles(&rt, &addr, &operator, "acme-search");
    tab.wait_for_element("#api-token").unwrap().click().unwrap();
    tab.type_str(&viewer).unwrap();
    tab.wait_for_element("#token-use").unwrap().click().unwrap();
    wait_for(
        &tab,
        "document.getElementById('token-state').textContent.indexOf('A token is set') >= 0",
        "the token taken",
    );
    assert_eq!(
        eval(&tab, "document.getElementById('api-token').value"),
        "",
        "the field is cleared"
    );
    tab.wait_for_element("section.card[data-account=\"acme-search\"] form[data-action=reconcile] button")
        .unwrap()
        .click()
        .unwrap();
    wait_for(
        &tab,
        "document.querySelector('section.card[data-account=\"acme-search\"] .result').textContent.indexOf('may only read') >= 0",
        "the viewer's refusal shown",
    );
    assert!(
        result_of(&tab, "acme-search").contains("--role operator"),
        "with the hint"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        reconciles(&rt, &addr, &operator, "acme-search"),
        before,
        "a refused action does nothing"
    );

    // The operator's token, and the keyboard only: Tab to "Reconcile now", press Enter, see the run end.
    tab.wait_for_element("#api-token").unwrap().click().unwrap();
    tab.type_str(&operator).unwrap();
    tab.press_key("Enter").unwrap();
    wait_for(
        &tab,
        "document.getElementById('api-token').value === ''",
        "the operator's token taken with Enter",
    );
    let stops = tab_to(&tab, "acme-search", "Reconcile now");
    assert!(stops.len() < 40, "a short way by keyboard: {stops:#?}");
    tab.press_key("Enter").unwrap();
    wait_for(
        &tab,
        "/Reconcile (succeeded|failed|cancelled)/.test(document.querySelector('section.card[data-account=\"acme-search\"] .result').textContent)",
        "the run's end announced",
    );
    let said = result_of(&tab, "acme-search");
    assert!(said.starts_with("Reconcile succeeded: success (run "), "{said}");
    assert_eq!(
        eval(
            &tab,
            "document.querySelector('section.card[data-account=\"acme-search\"] .result').getAttribute('aria-live')"
        ),
        "polite"
    );
    assert_eq!(reconciles(&rt, &addr, &operator, "acme-search"), before + 1);
    // The card was refreshed in place, the result kept.
    wait_for(
        &tab,
        "document.querySelector('section.card[data-account=\"acme-search\"] .body').innerText.indexOf('Last sync') >= 0",
        "the card's body",
    );

    // Validate, by mouse this time: the platform is asked, and the card says what it answered.
    tab.wait_for_element("section.card[data-account=\"acme-social\"] form[data-action=validate] button")
        .unwrap()
        .click()
        .unwrap();
    wait_for(
        &tab,
        "/^Validat/.test(document.querySelector('section.card[data-account=\"acme-social\"] .result').textContent)",
        "the validation's answer",
    );
    assert_eq!(result_of(&tab, "acme-social"), "Validated: token active");

    // The page never shows a token, and the audit log names the operator's token for the action.
    let html = eval(&tab, "document.documentElement.outerHTML");
    let html = html.as_str().unwrap_or_default();
    assert!(
        !html.contains(&operator) && !html.contains(&viewer),
        "no token in the page"
    );
    let audit = std::fs::read_to_string(dir.join(".adsctl").join("audit.jsonl")).unwrap_or_default();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("api.reconcile") && l.contains("on-call")),
        "{audit}"
    );
    assert!(!audit.contains(&operator) && !audit.contains(&viewer));
    for line in daemon.log() {
        assert!(!line.contains(&operator) && !line.contains(&viewer), "{line}");
    }

    // The screenshot, after a fresh load (no focus ring or result in it).
    tab.navigate_to(&format!("http://{addr}/")).unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_elements("section.pcard").unwrap();
    let png = tab
        .capture_screenshot(
            headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption::Png,
            None,
            None,
            true,
        )
        .unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");
    let out = if std::env::var_os("ADSCTL_UPDATE_SCREENSHOTS").is_some() {
        common::repo().join("docs/img/dashboard.png")
    } else {
        tmp.path().join("dashboard.png")
    };
    std::fs::write(&out, &png).unwrap();
    eprintln!("screenshot: {}", out.display());
}
