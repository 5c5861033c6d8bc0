#!/usr/bin/env python3
"""Regenerate crates/adsctl-emulator/src/tiktok/fields.json, the TikTok API for Business v1.3 field table the
emulator validates requests against, from the reference pack's fields.json (request models of the official SDK,
generated there by gen-fields.py; ../shared/reference/tiktok-business/).

Usage: scripts/gen-tiktok-fields.py [PACK_FIELDS_JSON] [OUT]
  PACK_FIELDS_JSON defaults to ../shared/reference/tiktok-business/fields.json next to the repository (or one
                   level higher)
  OUT              defaults to crates/adsctl-emulator/src/tiktok/fields.json

For every endpoint the emulator serves: method, path, body model, query parameters; for every model those name (and
the models their fields nest): each field's type, required flag, default, enum values and limits. Derivation:

- type and default: the SDK model (`type`, `default`); required: the SDK's flag, or the yml fragment of this very
  endpoint listing the field as required.
- enum: the list of the yml fragment of this very endpoint (relation same_endpoint); else the valid values of the
  sibling (Smart+) fragment's enum package, united with the valid values every other fragment of that field gives for
  the same package; else the valid values of the other Smart+ fragments of the same resource (smart_plus_<resource>_*).
  Fields with no list in any of those carry no enum (text-only lists in the 2025 docs are heuristics and not used).
- limits (minLength, maxLength, minItems, maxItems, minimum, maximum): the same-endpoint or sibling fragment's
  constraints.
- OVERRIDES below: facts the yml fragments do not carry but the 2025 field descriptions state in words (doc_2025,
  quoted in each entry's `why`), and enum lists where the package union is wider than the endpoint.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CANDIDATES = [
    os.path.join(ROOT, *up, "shared", "reference", "tiktok-business", "fields.json") for up in ([".."], ["..", ".."])
]
PACK = sys.argv[1] if len(sys.argv) > 1 else next((c for c in CANDIDATES if os.path.isfile(c)), CANDIDATES[0])
OUT = (
    sys.argv[2]
    if len(sys.argv) > 2
    else os.path.join(ROOT, "crates", "adsctl-emulator", "src", "tiktok", "fields.json")
)

SERVED = [
    "campaign_create", "campaign_update", "campaign_status_update", "campaign_get",
    "adgroup_create", "adgroup_update", "adgroup_status_update", "adgroup_get",
    "ad_create", "ad_update", "ad_status_update", "ad_get",
    "custom_audience_file_upload", "custom_audience_create", "custom_audience_update", "custom_audience_delete",
    "custom_audience_list", "custom_audience_get", "lookalike_create",
    "report_integrated_get", "report_task_create", "report_task_check",
    "oauth2_access_token", "oauth2_advertiser_get",
]

NAME_512 = {"max_len": 512, "width": True, "why": "doc_2025: up to 512 characters; Chinese or Japanese count as two"}
OVERRIDES = {
    ("CampaignCreateBody", "campaign_name"): dict(NAME_512, min_len=1),
    ("CampaignUpdateBody", "campaign_name"): dict(NAME_512, min_len=1),
    ("AdgroupCreateBody", "adgroup_name"): dict(NAME_512, min_len=1),
    ("AdgroupUpdateBody", "adgroup_name"): dict(NAME_512, min_len=1),
    ("AdcreateCreatives", "ad_name"): dict(NAME_512),
    ("AdupdateCreatives", "ad_name"): dict(NAME_512),
    ("AdcreateCreatives", "ad_text"): {"min_len": 1, "max_len": 100, "why": "doc_2025: 1-100 characters"},
    ("AdupdateCreatives", "ad_text"): {"min_len": 1, "max_len": 100, "why": "doc_2025: 1-100 characters"},
    ("AdcreateCreatives", "display_name"): {
        "min_len": 1, "max_len": 40, "width": True,
        "why": "doc_2025: 1-40 English characters, or 1-20 Chinese/Japanese/Korean characters",
    },
    ("AdupdateCreatives", "display_name"): {
        "min_len": 1, "max_len": 40, "width": True,
        "why": "doc_2025: 1-40 English characters, or 1-20 Chinese/Japanese/Korean characters",
    },
    ("CustomAudienceUpdateBody", "custom_audience_name"): {
        "min_len": 1, "max_len": 128, "why": "doc_2025: Length limit: 128 characters",
    },
    ("LookalikeCreateBody", "custom_audience_name"): {
        "min_len": 1, "max_len": 128, "why": "doc_2025: Maximum of 128 characters",
    },
    ("CustomAudienceUpdateBody", "file_paths"): {"min_items": 1, "max_items": 500, "why": "as on create"},
    ("AdgroupStatusUpdateBody", "adgroup_ids"): {"min_items": 1, "max_items": 20, "why": "doc_2025: 1-20"},
    ("AdStatusUpdateBody", "ad_ids"): {"min_items": 1, "max_items": 20, "why": "doc_2025: Allowed quantity 1-20"},
    ("AdStatusUpdateBody", "aco_ad_ids"): {"min_items": 1, "max_items": 20, "why": "doc_2025: Allowed quantity 1-20"},
    ("CampaignStatusUpdateBody", "advertiser_id"): {"required": True, "why": "the fragment's required list"},
    ("CampaignStatusUpdateBody", "campaign_ids"): {"required": True, "why": "the fragment's required list"},
    ("CampaignStatusUpdateBody", "operation_status"): {"required": True, "why": "the fragment's required list"},
    # enums narrower than the package union
    ("CampaignCreateBody", "operation_status"): {"enum": ["ENABLE", "DISABLE"], "why": "doc_2025: Enum values ENABLE, DISABLE"},
    ("AdgroupCreateBody", "operation_status"): {"enum": ["ENABLE", "DISABLE"], "why": "doc_2025: Enum values ENABLE, DISABLE"},
    ("AdcreateCreatives", "operation_status"): {"enum": ["ENABLE", "DISABLE"], "why": "doc_2025: Enum values ENABLE, DISABLE"},
    ("CampaignStatusUpdateBody", "operation_status"): {"enum": ["DELETE", "DISABLE", "ENABLE"], "why": "doc_2025"},
    ("AdgroupStatusUpdateBody", "operation_status"): {"enum": ["DELETE", "DISABLE", "ENABLE"], "why": "doc_2025"},
    ("AdStatusUpdateBody", "operation_status"): {"enum": ["DELETE", "DISABLE", "ENABLE"], "why": "doc_2025"},
    ("CampaignCreateBody", "objective_type"): {
        "enum_from": "tool_bid_recommend.yml",
        "why": "the current objectives (the package union also holds legacy and internal values)",
    },
    ("CampaignCreateBody", "optimization_goal"): {
        "enum": ["CONVERT", "INSTALL", "VALUE", "IN_APP_EVENT", "LEAD_GENERATION"],
        "why": "doc_2025: Allowed values: CONVERT, INSTALL, VALUE, IN_APP_EVENT and LEAD_GENERATION",
    },
    ("CampaignCreateBody", "rf_campaign_type"): {"enum": ["STANDARD", "PULSE"], "why": "doc_2025"},
    ("AdgroupCreateBody", "pacing"): {
        "enum": ["PACING_MODE_SMOOTH", "PACING_MODE_FAST"],
        "why": "doc_2025: You can choose between PACING_MODE_SMOOTH and PACING_MODE_FAST",
    },
    ("AdgroupCreateBody", "placements"): {
        "enum": ["PLACEMENT_TIKTOK", "PLACEMENT_PANGLE", "PLACEMENT_GLOBAL_APP_BUNDLE"],
        "why": "the sibling fragment's valid values (HELO and VIGO are flagged invalid there)",
    },
    ("AdgroupCreateBody", "budget_mode"): {
        "enum": ["BUDGET_MODE_TOTAL", "BUDGET_MODE_DAY", "BUDGET_MODE_DYNAMIC_DAILY_BUDGET", "BUDGET_MODE_INFINITE"],
        "why": "doc_2025 lists TOTAL, DAY, DYNAMIC_DAILY_BUDGET without CBO; INFINITE is what a CBO ad group carries",
    },
    ("AdcreateCreatives", "ad_format"): {
        "enum": ["SINGLE_IMAGE", "SINGLE_VIDEO", "LIVE_CONTENT", "CAROUSEL_ADS", "CATALOG_CAROUSEL"],
        "why": "doc_2025: SINGLE_IMAGE, SINGLE_VIDEO, LIVE_CONTENT; the Smart+ fragment adds the carousels",
    },
    ("AdupdateCreatives", "ad_format"): {
        "enum": ["SINGLE_IMAGE", "SINGLE_VIDEO", "LIVE_CONTENT", "CAROUSEL_ADS", "CATALOG_CAROUSEL"],
        "why": "doc_2025: SINGLE_IMAGE, SINGLE_VIDEO, LIVE_CONTENT; the Smart+ fragment adds the carousels",
    },
    ("AdcreateCreatives", "identity_type"): {
        "enum": ["CUSTOMIZED_USER", "AUTH_CODE", "TT_USER", "BC_AUTH_TT"],
        "why": "doc_2025: Enum CUSTOMIZED_USER, AUTH_CODE, TT_USER, BC_AUTH_TT",
    },
    ("AdupdateCreatives", "identity_type"): {
        "enum": ["CUSTOMIZED_USER", "AUTH_CODE", "TT_USER", "BC_AUTH_TT"],
        "why": "doc_2025: Enum CUSTOMIZED_USER, AUTH_CODE, TT_USER, BC_AUTH_TT",
    },
    ("CustomAudienceUpdateBody", "action"): {"enum": ["APPEND", "REMOVE", "REPLACE"], "why": "the fragment"},
}


def resource_of(model):
    low = model.lower()
    for r in ("adgroup", "campaign", "ad"):
        if low.startswith(r) or low.startswith("filtering" + r):
            return r
    return None


def enum_for(model, f):
    ymls = f.get("yml", [])
    same = [y for y in ymls if y["relation"] == "same_endpoint" and y.get("enum")]
    if same:
        return sorted(set(same[0]["enum"]["values"]))
    sib = [y for y in ymls if y["relation"] == "sibling_endpoint" and y.get("enum")]
    if sib:
        pkg = sib[0]["enum"]["package"]
        if pkg is None:
            return sorted(set(sib[0]["enum"]["values"]))
        vals = set()
        for y in ymls:
            if y.get("enum") and y["enum"]["package"] == pkg:
                vals.update(y["enum"]["values"])
        return sorted(vals)
    res = resource_of(model)
    if res:
        vals = set()
        for y in ymls:
            if y.get("enum") and y["file"].startswith("smart_plus_" + res + "_"):
                vals.update(y["enum"]["values"])
        if vals:
            return sorted(vals)
    return None


def limits_for(f):
    out = {}
    keys = {"minLength": "min_len", "maxLength": "max_len", "minItems": "min_items", "maxItems": "max_items",
            "minimum": "minimum", "maximum": "maximum"}
    for y in f.get("yml", []):
        if y["relation"] not in ("same_endpoint", "sibling_endpoint"):
            continue
        for k, v in y.get("constraints", {}).items():
            if k in keys and keys[k] not in out:
                out[keys[k]] = v
    return out


def field_spec(model, f):
    same_required = any(y["relation"] == "same_endpoint" and y.get("required") for y in f.get("yml", []))
    spec = {"type": f["type"], "required": bool(f.get("required")) or same_required}
    if "default" in f:
        spec["default"] = f["default"]
    e = enum_for(model, f)
    if e:
        spec["enum"] = e
    spec.update(limits_for(f))
    o = OVERRIDES.get((model, f["name"]))
    if o:
        for k, v in o.items():
            if k == "why":
                continue
            if k == "enum_from":
                src = [y for y in f.get("yml", []) if y["file"] == v and y.get("enum")]
                spec["enum"] = sorted(set(src[0]["enum"]["values"]))
            else:
                spec[k] = v
    return spec


def nested_models(t):
    inner = t[5:-1] if t.startswith("list[") else t
    return [inner] if inner and inner[0].isupper() else []


def main():
    with open(PACK, encoding="utf-8") as fh:
        pack = json.load(fh)
    models_in = pack["models"]
    endpoints, todo = {}, []
    for name in SERVED:
        e = pack["endpoints"][name]
        out = {"method": e["method"], "path": e["path"]}
        if e.get("body_model"):
            out["body"] = e["body_model"]
            todo.append(e["body_model"])
        if e.get("filtering_model"):
            out["filtering"] = e["filtering_model"]
            todo.append(e["filtering_model"])
        q = e.get("query_params") or e.get("params")
        if q:
            params = {}
            for p in q:
                s = field_spec(name, p)
                if p.get("query_json"):
                    s["json"] = True
                if "default" in p:
                    s["default"] = p["default"]
                params[p["name"]] = s
            out["multipart" if e.get("params") else "query"] = params
        endpoints[name] = out
    models = {}
    while todo:
        m = todo.pop(0)
        if m in models or m not in models_in:
            continue
        fields = {}
        for f in models_in[m]["fields"]:
            fields[f["name"]] = field_spec(m, f)
            todo.extend(nested_models(f["type"]))
        models[m] = dict(sorted(fields.items()))
    table = {
        "generated_by": "scripts/gen-tiktok-fields.py",
        "source": "../shared/reference/tiktok-business/fields.json (tiktok/tiktok-business-api-sdk "
        + pack.get("source_commit", "?") + "; MIT, Copyright 2023 TikTok Pte. Ltd.)",
        "endpoints": endpoints,
        "models": dict(sorted(models.items())),
    }
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump(table, fh, indent=1, sort_keys=False)
        fh.write("\n")
    print(f"wrote {OUT}: {len(endpoints)} endpoints, {len(models)} models")


if __name__ == "__main__":
    main()
