#!/usr/bin/env python3
"""Regenerate crates/adsctl-emulator/src/meta/params.json, the Meta Graph API v25.0 parameter table the emulator
validates against, from the Marketing API codegen specs (facebook-business-sdk-codegen api_specs/specs/*.json, copied
into ../shared/reference/meta-marketing/specs/, plus the node specs that pack left out, copied from the same commit
into reference/meta-marketing-supplement/specs/ of this repository: CustomConversion, AdStudy, AdStudyCell,
AdStudyObjective, Business, ProductCatalog, ProductSet).

Usage: scripts/gen-meta-params.py [SPECS_DIR] [OUT]
  SPECS_DIR defaults to ../shared/reference/meta-marketing/specs next to the repository (or one level higher);
            a spec missing there is read from reference/meta-marketing-supplement/specs (see its SOURCE.md)
  OUT       defaults to crates/adsctl-emulator/src/meta/params.json

The table keeps, for every node the emulator serves, its readable fields (name -> type) and its API calls
(method, edge or null for the node itself, parameters with type and required flag), plus every enum type those
parameters and fields name. Nothing is added by hand: the emulator's Graph-wide parameters (access_token,
appsecret_proof, fields, limit, after, before) live in the Rust code, not here.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CANDIDATES = [os.path.join(ROOT, *up, "shared", "reference", "meta-marketing", "specs") for up in ([".."], ["..", ".."])]
SPECS = sys.argv[1] if len(sys.argv) > 1 else next((c for c in CANDIDATES if os.path.isdir(c)), CANDIDATES[0])
SUPPLEMENT = os.path.join(ROOT, "reference", "meta-marketing-supplement", "specs")
OUT = (
    sys.argv[2]
    if len(sys.argv) > 2
    else os.path.join(ROOT, "crates", "adsctl-emulator", "src", "meta", "params.json")
)

# node -> edges served (None = the node itself). Nodes listed with "*" keep all their API calls.
SERVED = {
    "AdAccount": [
        None,
        "campaigns",
        "adsets",
        "ads",
        "adcreatives",
        "adlabels",
        "customaudiences",
        "customconversions",
        "ad_studies",
        "insights",
    ],
    "Campaign": "*",
    "AdSet": "*",
    "Ad": "*",
    "AdCreative": "*",
    "AdLabel": "*",
    "CustomAudience": "*",
    "AdReportRun": "*",
    # the node itself only (its `stats` edge is not served)
    "CustomConversion": [None],
    # split tests (ad studies): created on a Business, read on the ad account, the study and its cells
    "Business": ["ad_studies"],
    "AdStudy": [None, "cells", "objectives"],
    "AdStudyCell": [None],
    "AdStudyObjective": [None],
    # catalog ads: the catalog is read and its product sets listed and made; the catalog itself is not changed
    "ProductCatalog": [None, "product_sets"],
    "ProductSet": [None],
}
# Value types whose fields the emulator reads (insights rows, lookalike specs, sessions): fields only.
FIELDS_ONLY = ["AdsInsights", "AdsActionStats", "LookalikeSpec", "CustomAudienceSession", "AdgroupReviewFeedback"]
# JSON-valued parameters checked key by key (targeting, object_story_spec, promoted_object): these types and every
# spec type their fields reach (the served object nodes themselves excepted), fields only.
VALUE_ROOTS = ["Targeting", "AdCreativeObjectStorySpec", "AdPromotedObject"]


def spec_path(name):
    """The pack's spec of that name, or else the supplement's."""
    own = os.path.join(SPECS, name + ".json")
    return own if os.path.isfile(own) else os.path.join(SUPPLEMENT, name + ".json")


def load(name):
    with open(spec_path(name), encoding="utf-8") as f:
        return json.load(f)


def type_names(t):
    """Every identifier inside a type expression such as list<map<string, int>>."""
    out, cur = [], ""
    for ch in t:
        if ch.isalnum() or ch == "_":
            cur += ch
        else:
            if cur:
                out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def main():
    enums_all = {e["name"]: e["values"] for e in load("enum_types")}
    nodes, used = {}, set()
    for node, edges in SERVED.items():
        spec = load(node)
        apis = []
        for api in spec["apis"]:
            ep = api.get("endpoint")
            if edges != "*" and ep not in edges:
                continue
            params = [
                {"name": p["name"], "type": p["type"], "required": bool(p.get("required", False))}
                for p in api.get("params", [])
            ]
            for p in params:
                used.update(type_names(p["type"]))
            apis.append({"method": api["method"], "endpoint": ep, "return": api.get("return"), "params": params})
        apis.sort(key=lambda a: (a["endpoint"] or "", a["method"]))
        fields = {f["name"]: f["type"] for f in spec["fields"]}
        for t in fields.values():
            used.update(type_names(t))
        nodes[node] = {"fields": dict(sorted(fields.items())), "apis": apis}
    closure, todo = [], list(VALUE_ROOTS)
    while todo:
        name = todo.pop(0)
        if name in closure or name in SERVED or not os.path.isfile(spec_path(name)):
            continue
        closure.append(name)
        for f in load(name)["fields"]:
            todo.extend(type_names(f["type"]))
    for node in FIELDS_ONLY + sorted(set(closure) - set(FIELDS_ONLY)):
        spec = load(node)
        fields = {f["name"]: f["type"] for f in spec["fields"]}
        for t in fields.values():
            used.update(type_names(t))
        nodes[node] = {"fields": dict(sorted(fields.items())), "apis": []}
    enums = {name: enums_all[name] for name in sorted(used) if name in enums_all}
    table = {
        "generated_by": "scripts/gen-meta-params.py",
        "source": "facebook-business-sdk-codegen api_specs/specs (Graph API v25.0); Copyright (c) Meta Platforms, Inc. and affiliates.",
        "nodes": nodes,
        "enums": enums,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(table, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {OUT}: {len(nodes)} nodes, {sum(len(n['apis']) for n in nodes.values())} calls, {len(enums)} enums")


if __name__ == "__main__":
    main()
