# Regenerates the invalid-input corpus (one directory per case). Run from tests/invalid/: python3 generate.py
# Each directory also holds expected.txt (file:line:col code of every error), reviewed by hand; after changing a
# case, regenerate expected.txt from `adsctl validate --json <case>` and review the diff.
import os, shutil
BASE = """accounts:
  search:
    platform: google_ads
    customer_id: 123-456-7890
    currency: USD
  social:
    platform: meta
    ad_account_id: act_1234567890
    currency: USD
  tokyo:
    platform: google_ads
    customer_id: 222-333-4444
    currency: JPY
"""
G = """campaigns:
  - name: Search A
    account: search
    channel: search
    budget: {{ daily: {daily} }}
    bidding: {{ manual_cpc: {{}} }}
{extra}"""
def gcamp(daily="50", extra="", account="search"):
    return G.format(daily=daily, extra=extra).replace("account: search", "account: "+account)
RSA = """    ad_groups:
      - name: Group
        ads:
          - responsive_search:
              headlines: [{h}]
              descriptions: [{d}]
              final_url: {u}
{p}"""
def rsa(h="Alpha Shoes, Beta Shoes, Gamma Shoes", d="First description here., Second description here.", u="https://example.com", p=""):
    return gcamp(extra=RSA.format(h=h, d=d, u=u, p=p))
M = """campaigns:
  - name: Social A
    account: social
    objective: {obj}
{sac}    budget: {{ daily: 30 }}
    ad_sets:
      - name: Set
        targeting:
{tgt}        ads:
          - name: Ad
            creative:
              page_id: "{page}"
              link: {link}
"""
def meta(obj="traffic", sac="    special_ad_categories: []\n", tgt="          countries: [US]\n", page="1122334455", link="https://example.com"):
    return M.format(obj=obj, sac=sac, tgt=tgt, page=page, link=link)
AUD = """audiences:
  - name: Subscribers
    accounts: [{accts}]
    customer_file: {{ path: {path}, column: {col} }}
"""
CSV = "email,name\na@example.com,A\nb@example.com,B\n"
cases = {}
def case(name, files, base=True):
    d = {}
    if base: d["adsctl.yaml"] = BASE
    d.update(files)
    cases[name] = d

# --- files and YAML
case("no-project-file", {"r.yaml": gcamp()}, base=False)
case("empty-project-file", {"adsctl.yaml": "# nothing here\n"}, base=False)
case("empty-resource-file", {"r.yaml": ""})
case("invalid-utf8", {"r.yaml": b"campaigns:\n  - name: Caf\xe9\n"})
case("yaml-syntax-error", {"r.yaml": "campaigns:\n  - name: A\n    account: [search\n    channel: search\n"})
case("yaml-bad-indentation", {"r.yaml": "campaigns:\n  - name: A\n   account: search\n"})
case("alias-bomb", {"r.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\ncampaigns: *g\n"})
case("deep-nesting", {"r.yaml": "campaigns: " + "[" * 500 + "]" * 500 + "\n"})
case("deep-block-nesting", {"r.yaml": "".join(" " * (2 * i) + "k%d:\n" % i for i in range(120))})
case("project-two-documents", {"adsctl.yaml": BASE + "---\naccounts: {}\n"}, base=False)
case("project-not-a-mapping", {"adsctl.yaml": "- search\n- social\n"}, base=False)
# --- accounts
case("account-unknown-field", {"adsctl.yaml": BASE.replace("    currency: USD\n  social", "    curency: USD\n  social")}, base=False)
case("account-bad-platform", {"adsctl.yaml": BASE.replace("platform: google_ads\n    customer_id: 123", "platform: googleads\n    customer_id: 123")}, base=False)
case("account-unsupported-platform", {"adsctl.yaml": BASE + "  pro:\n    platform: linkedin\n    currency: USD\n"}, base=False)
case("account-bad-customer-id", {"adsctl.yaml": BASE.replace("123-456-7890", "123-45-67890")}, base=False)
case("account-meta-id-without-act", {"adsctl.yaml": BASE.replace("act_1234567890", '"1234567890"')}, base=False)
case("account-unknown-currency", {"adsctl.yaml": BASE.replace("currency: JPY", "currency: YEN")}, base=False)
case("account-missing-customer-id", {"adsctl.yaml": BASE.replace("    customer_id: 222-333-4444\n", "")}, base=False)
case("account-guardrail-type-error", {"adsctl.yaml": BASE + "    guardrails: { max_increase_pct: lots, max_daily_budget: -5 }\n"}, base=False)
case("account-field-of-other-platform", {"adsctl.yaml": BASE.replace("    ad_account_id: act_1234567890\n", "    ad_account_id: act_1234567890\n    customer_id: 123-456-7890\n")}, base=False)
case("account-bad-on-removed", {"adsctl.yaml": BASE + "    on_removed: delete\n"}, base=False)
# --- structure and types
case("unknown-top-level-key", {"r.yaml": gcamp().replace("campaigns:", "campaign:")})
case("campaign-unknown-field", {"r.yaml": gcamp(extra="    budjet: 5\n")})
case("campaign-missing-name", {"r.yaml": gcamp().replace("  - name: Search A\n    account", "  - account")})
case("campaign-unknown-account", {"r.yaml": gcamp(account="serch")})
case("campaign-bad-status", {"r.yaml": gcamp(extra="    status: running\n")})
case("type-error-list-expected", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: G\n        keywords: running shoes\n")})
case("type-error-bool-expected", {"r.yaml": gcamp(extra="    eu_political_advertising: nope\n")})
case("type-error-budget-scalar", {"r.yaml": gcamp().replace("budget: { daily: 50 }", "budget: 50")})
case("type-error-keyword-string", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: G\n        keywords:\n          - running shoes\n          - { text: trail shoes, match: exact }\n")})
case("duplicate-yaml-key", {"r.yaml": gcamp(extra="    channel: display\n")})
# --- Google campaign rules
case("google-missing-bidding", {"r.yaml": gcamp().replace("    bidding: { manual_cpc: {} }\n", "")})
case("google-two-bidding-strategies", {"r.yaml": gcamp().replace("bidding: { manual_cpc: {} }", "bidding: { manual_cpc: {}, target_spend: {} }")})
case("google-bad-channel", {"r.yaml": gcamp().replace("channel: search", "channel: serch")})
case("google-meta-field", {"r.yaml": gcamp(extra="    objective: traffic\n")})
case("google-budget-daily-and-shared", {"r.yaml": "budgets:\n  - { name: Pool, account: search, amount: 100 }\n" + gcamp().replace("{ daily: 50 }", "{ daily: 50, shared: Pool }")})
case("google-ad-group-type-mismatch", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: G\n        type: display_standard\n")})
case("google-rsa-in-display-campaign", {"r.yaml": rsa().replace("channel: search", "channel: display")})
case("shared-budget-dangling", {"r.yaml": "budgets:\n  - { name: Main pool, account: search, amount: 100 }\n" + gcamp().replace("{ daily: 50 }", "{ shared: Main pol }")})
case("date-order", {"r.yaml": gcamp(extra="    start_date: 2026-05-01\n    end_date: 2026-04-30\n")})
case("date-bad-format", {"r.yaml": gcamp(extra="    start_date: 2026/05/01\n")})
# --- money
case("money-too-precise-usd", {"r.yaml": gcamp(daily="12.345")})
case("money-too-precise-jpy", {"r.yaml": gcamp(daily="1.5", account="tokyo")})
case("money-negative-budget", {"r.yaml": gcamp(daily="-10")})
case("money-zero-budget", {"r.yaml": gcamp(daily="0")})
case("money-not-a-number", {"r.yaml": gcamp(daily="fifty")})
case("money-exponent", {"r.yaml": gcamp(daily="1e3")})
# --- duplicates
case("duplicate-campaign-across-files", {"a.yaml": gcamp(), "b.yaml": gcamp()})
case("duplicate-ad-group", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: Shoes\n      - name: Shoes\n")})
case("duplicate-keyword", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: Shoes\n        keywords:\n          - { text: Running Shoes, match: phrase }\n          - { text: running  shoes, match: PHRASE }\n")})
# --- RSA and keywords
case("rsa-headline-too-long", {"r.yaml": rsa(h="Alpha Shoes, Beta Shoes, The Best Running Shoes In The Whole World")})
case("rsa-too-few-headlines", {"r.yaml": rsa(h="Alpha Shoes, Beta Shoes")})
case("rsa-description-too-long", {"r.yaml": rsa(d="Short one., " + "x" * 91)})
case("rsa-too-many-descriptions", {"r.yaml": rsa(d="One line., Two line., Three line., Four line., Five line.")})
case("rsa-paths", {"r.yaml": rsa(p="              path2: a-very-long-path-segment\n")})
case("rsa-bad-pin", {"r.yaml": rsa(h="{ text: Alpha Shoes, pin: 4 }, Beta Shoes, Gamma Shoes")})
case("rsa-bad-url", {"r.yaml": rsa(u="example.com/shoes")})
case("rsa-missing-descriptions", {"r.yaml": rsa().replace("              descriptions: [First description here., Second description here.]\n", "")})
case("keyword-too-many-words", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: G\n        keywords:\n          - { text: one two three four five six seven eight nine ten eleven, match: broad }\n")})
case("keyword-bad-match", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: G\n        keywords:\n          - { text: shoes, match: fuzzy }\n")})
case("keyword-missing-match", {"r.yaml": gcamp(extra="    ad_groups:\n      - name: G\n        keywords:\n          - { text: shoes }\n")})
# --- Meta
case("meta-missing-special-ad-categories", {"r.yaml": meta(sac="")})
case("meta-bad-objective", {"r.yaml": meta(obj="trafic")})
case("meta-age-out-of-range", {"r.yaml": meta(tgt="          age: { min: 12, max: 70 }\n")})
case("meta-age-min-above-max", {"r.yaml": meta(tgt="          age: { min: 40, max: 30 }\n")})
case("meta-campaign-and-ad-set-budget", {"r.yaml": meta().replace("      - name: Set\n", "      - name: Set\n        budget: { daily: 10 }\n")})
case("meta-bad-country", {"r.yaml": meta(tgt="          countries: [US, USA]\n")})
case("meta-stop-before-start", {"r.yaml": meta().replace("    budget: { daily: 30 }\n", "    budget: { daily: 30 }\n    start_time: 2026-05-01T00:00:00Z\n    stop_time: 2026-04-01T00:00:00Z\n")})
case("meta-bad-creative", {"r.yaml": meta(page="my-page", link="not a url")})
case("meta-google-field", {"r.yaml": meta().replace("    budget: { daily: 30 }\n", "    budget: { daily: 30 }\n    channel: search\n")})
case("meta-bid-cap-needs-bid-amount", {"r.yaml": meta().replace("    budget: { daily: 30 }\n", "    budget: { daily: 30 }\n    bid_strategy: cost_cap\n")})
case("meta-lifetime-budget-needs-end", {"r.yaml": meta().replace("    budget: { daily: 30 }\n", "").replace("      - name: Set\n", "      - name: Set\n        budget: { lifetime: 500 }\n")})
case("meta-campaign-lifetime-needs-stop", {"r.yaml": meta().replace("budget: { daily: 30 }", "budget: { lifetime: 900 }")})
case("meta-ad-set-without-budget", {"r.yaml": meta().replace("    budget: { daily: 30 }\n", "")})
# --- audiences
case("audience-dangling-ref", {"r.yaml": meta(tgt="          custom_audiences: [Subscribers]\n")})
case("audience-missing-csv", {"r.yaml": AUD.format(accts="search, social", path="data/missing.csv", col="email")})
case("audience-bad-emails", {"r.yaml": AUD.format(accts="search", path="data/list.csv", col="email"), "data/list.csv": "email,name\na@example.com,A\nnot-an-email,B\nc@example.com,C\nd@,D\n"})
case("audience-csv-missing-column", {"r.yaml": AUD.format(accts="search", path="data/list.csv", col="mail"), "data/list.csv": CSV})
case("audience-unknown-account", {"r.yaml": AUD.format(accts="search, socal", path="data/list.csv", col="email"), "data/list.csv": CSV})
case("audience-path-escapes", {"r.yaml": AUD.format(accts="search", path="../secrets.csv", col="email")})
case("lookalike-bad-ratio", {"r.yaml": AUD.format(accts="social", path="data/list.csv", col="email") + "lookalike_audiences:\n  - { name: LAL, account: social, origin: Subscribers, country: US, ratio: 0.25 }\n", "data/list.csv": CSV})
case("lookalike-dangling-origin", {"r.yaml": AUD.format(accts="social", path="data/list.csv", col="email") + "lookalike_audiences:\n  - { name: LAL, account: social, origin: Subscriber, country: US, ratio: 0.01 }\n", "data/list.csv": CSV})
case("lookalike-on-google", {"r.yaml": "lookalike_audiences:\n  - { name: LAL, account: search, origin: X, country: US, ratio: 0.01 }\n"})
# --- lifecycle and many at once
case("lifecycle-unknown-ignore-field", {"r.yaml": gcamp(extra="    lifecycle: { ignore_changes: [budget.dayly] }\n")})
case("id-not-numeric", {"r.yaml": gcamp(extra="    id: abc\n")})
case("many-errors-at-once", {"r.yaml": gcamp(daily="1.001", extra="    statuss: enabled\n    ad_groups:\n      - name: G\n        keywords:\n          - { text: shoes, match: fuzzy }\n          - { text: boots }\n") + "  - name: Search B\n    account: nowhere\n", "s.yaml": meta(obj="trafic", tgt="          age: { min: 10 }\n")})

for name, files in cases.items():
    if os.path.exists(name): shutil.rmtree(name)
    os.makedirs(name)
    for fn, content in files.items():
        p = os.path.join(name, fn)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(p, mode) as f: f.write(content)
print(len(cases))
