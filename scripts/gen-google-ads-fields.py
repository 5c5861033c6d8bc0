#!/usr/bin/env python3
"""Derive the Google Ads v25 field table the emulator validates request bodies and GAQL against.

Reads the verbatim googleapis protos (../shared/reference/google-ads/protos by default) and writes
crates/adsctl-emulator/src/google_ads/fields.json: every message and enum reachable from the request/response
messages and resources the emulator serves, with each field's proto name, JSON (lowerCamelCase) name, type,
label, oneof and field behaviours. A user's clone has no ../shared, so the output is committed; rerun this script after
updating the reference:

    python3 scripts/gen-google-ads-fields.py [PROTO_ROOT] [OUT]

Messages that list every resource of the API (GoogleAdsRow, MutateOperation, MutateOperationResponse) keep
their full field list, but fields whose type belongs to a resource the emulator does not serve are marked
"unsupported" and not followed (the emulator answers them with UNIMPLEMENTED instead of pretending).
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "reference", "google-ads", "protos")
if not os.path.isdir(ROOT):
    ROOT = os.path.join(HERE, "..", "..", "shared", "reference", "google-ads", "protos")
OUT = (
    sys.argv[2]
    if len(sys.argv) > 2
    else os.path.join(HERE, "..", "crates", "adsctl-emulator", "src", "google_ads", "fields.json")
)
V = "google.ads.googleads.v25"

# Request messages, resources and helper messages the emulator serves.
ROOTS = [f"{V}.services.{m}" for m in [
    "SearchGoogleAdsRequest", "SearchGoogleAdsResponse", "SearchGoogleAdsStreamRequest",
    "SearchGoogleAdsStreamResponse", "MutateGoogleAdsRequest", "MutateGoogleAdsResponse",
    "MutateCampaignBudgetsRequest", "MutateCampaignsRequest", "MutateAdGroupsRequest", "MutateAdGroupAdsRequest",
    "MutateAdGroupCriteriaRequest", "MutateLabelsRequest", "MutateCampaignLabelsRequest",
    "MutateAdGroupLabelsRequest", "MutateAdGroupAdLabelsRequest", "MutateUserListsRequest",
    "CreateOfflineUserDataJobRequest", "CreateOfflineUserDataJobResponse",
    "AddOfflineUserDataJobOperationsRequest", "AddOfflineUserDataJobOperationsResponse",
    "RunOfflineUserDataJobRequest", "ListAccessibleCustomersRequest", "ListAccessibleCustomersResponse",
    "MutateAdsRequest", "MutateAdsResponse", "MutateCampaignCriteriaRequest", "MutateAdGroupCriterionLabelsRequest",
    "MutateConversionActionsRequest", "MutateCustomConversionGoalsRequest",
    "MutateConversionGoalCampaignConfigsRequest", "MutateExperimentsRequest", "MutateExperimentArmsRequest",
    "EndExperimentRequest", "GraduateExperimentRequest", "ScheduleExperimentRequest", "PromoteExperimentRequest",
    "ScheduleExperimentMetadata", "PromoteExperimentMetadata", "ListExperimentAsyncErrorsRequest",
    "ListExperimentAsyncErrorsResponse", "GoogleAdsRow",
    # Performance Max catalog campaigns: asset groups, their text assets and listing group filters
    "MutateAssetGroupsRequest", "MutateAssetGroupAssetsRequest", "MutateAssetGroupListingGroupFiltersRequest",
    "MutateAssetsRequest",
]] + [f"{V}.services.Mutate{r}Response" for r in [
    "CampaignBudgets", "Campaigns", "AdGroups", "AdGroupAds", "AdGroupCriteria", "Labels", "CampaignLabels",
    "AdGroupLabels", "AdGroupAdLabels", "UserLists", "CampaignCriteria", "AdGroupCriterionLabels", "ConversionActions",
    "CustomConversionGoals", "ConversionGoalCampaignConfigs", "Experiments", "ExperimentArms",
    "AssetGroups", "AssetGroupAssets", "AssetGroupListingGroupFilters", "Assets",
]] + [
    f"{V}.resources.ChangeStatus", f"{V}.resources.Customer", f"{V}.resources.OfflineUserDataJob",
    f"{V}.common.Metrics", f"{V}.common.Segments", f"{V}.errors.GoogleAdsFailure",
    "google.longrunning.Operation", "google.rpc.Status",
]
SERVED_RESOURCES = {
    "Campaign", "CampaignBudget", "AdGroup", "AdGroupAd", "AdGroupCriterion", "Label", "CampaignLabel",
    "AdGroupLabel", "AdGroupAdLabel", "UserList", "Customer", "ChangeStatus", "OfflineUserDataJob", "Ad",
    "CampaignCriterion", "AdGroupCriterionLabel", "ConversionAction",
    "CustomConversionGoal", "ConversionGoalCampaignConfig", "Experiment", "ExperimentArm",
    "AssetGroup", "AssetGroupAsset", "AssetGroupListingGroupFilter", "Asset",
}
SERVED_OPS = {r + "Operation" for r in SERVED_RESOURCES} | {f"Mutate{r}Result" for r in SERVED_RESOURCES}
ALL_RESOURCE_MESSAGES = {"GoogleAdsRow", "MutateOperation", "MutateOperationResponse"}
SCALARS = {"double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
           "sfixed32", "sfixed64", "bool", "string", "bytes"}
WELL_KNOWN = {"google.protobuf.FieldMask": "field_mask", "google.protobuf.Any": "any",
              "google.protobuf.Duration": "duration", "google.protobuf.Empty": "empty",
              "google.protobuf.Timestamp": "timestamp"}

COMMENT_OR_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|' + r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?|\S', re.S)


def tokenize(text):
    # a qualified type name may be wrapped before a dot: "…Enum\n      .TrackingCodePageFormat"
    text = re.sub(r"\s+\.(?=[A-Za-z_])", ".", text)
    toks = []
    for m in COMMENT_OR_TOKEN.finditer(text):
        t = m.group(0)
        if not t.startswith(("//", "/*")):
            toks.append(t)
    return toks


def camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


messages, enums = {}, {}


def skip_block(toks, i):
    """toks[i] is '{': return the index after the matching '}'."""
    depth = 0
    while True:
        if toks[i] == "{":
            depth += 1
        elif toks[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def skip_statement(toks, i):
    while toks[i] != ";":
        if toks[i] == "{":
            i = skip_block(toks, i)
            continue
        i += 1
    return i + 1


def parse_options(toks, i):
    """toks[i] is '[': collect field behaviours; return (index after ']', behaviours)."""
    behaviours, depth = [], 0
    while True:
        t = toks[i]
        if t == "[":
            depth += 1
        elif t == "]":
            depth -= 1
            if depth == 0:
                return i + 1, behaviours
        elif t == "{":
            i = skip_block(toks, i)
            continue
        elif t.endswith("field_behavior") and toks[i + 1] == ")" and toks[i + 2] == "=":
            behaviours.append(toks[i + 3])
        i += 1


def parse_enum(toks, i, scope):
    name = toks[i + 1]
    full = f"{scope}.{name}"
    i += 3  # enum NAME {
    values = []
    while toks[i] != "}":
        if toks[i] in ("option", "reserved"):
            i = skip_statement(toks, i)
            continue
        values.append(toks[i])
        i = skip_statement(toks, i)
    enums[full] = [v for v in values]
    return i + 1


def parse_message(toks, i, scope, path):
    name = toks[i + 1]
    full = f"{scope}.{name}"
    fields = []
    messages[full] = {"file": path, "fields": fields}
    i += 3
    oneof = None
    while True:
        t = toks[i]
        if t == "}":
            if oneof is not None:
                oneof = None
                i += 1
                continue
            return i + 1
        if t == "message":
            i = parse_message(toks, i, full, path)
        elif t == "enum":
            i = parse_enum(toks, i, full)
        elif t == "oneof":
            oneof = toks[i + 1]
            i += 3
        elif t in ("option", "reserved", "extensions"):
            i = skip_statement(toks, i)
        else:
            label = None
            if t in ("optional", "repeated"):
                label, i = t, i + 1
            if toks[i] == "map":
                # map < K , V > name = N
                key, val = toks[i + 2], toks[i + 4]
                fname = toks[i + 6]
                ftype, label, mapinfo = val, "map", key
                i += 9
            else:
                ftype, fname = toks[i], toks[i + 1]
                mapinfo = None
                i += 4  # type name = N
            behaviours = []
            if toks[i] == "[":
                i, behaviours = parse_options(toks, i)
            i += 1  # ;
            f = {"name": fname, "json": camel(fname), "type": ftype, "scope": full}
            if label == "repeated":
                f["repeated"] = True
            if label == "optional":
                f["optional"] = True
            if label == "map":
                f["map_key"] = mapinfo
            if oneof is not None:
                f["oneof"] = oneof
            if behaviours:
                f["behavior"] = behaviours
            fields.append(f)


def parse_file(path):
    with open(path, encoding="utf-8") as fh:
        toks = tokenize(fh.read())
    pkg, i = "", 0
    while i < len(toks):
        t = toks[i]
        if t == "package":
            pkg = toks[i + 1]
            i += 3
        elif t == "message":
            i = parse_message(toks, i, pkg, path)
        elif t == "enum":
            i = parse_enum(toks, i, pkg)
        elif t in ("service", "extend"):
            while toks[i] != "{":
                i += 1
            i = skip_block(toks, i)
        else:
            i = skip_statement(toks, i) if t in ("syntax", "import", "option") else i + 1


def resolve(name, scope):
    if name in SCALARS:
        return "scalar", name
    if name in WELL_KNOWN:
        return "well_known", WELL_KNOWN[name]
    candidates = []
    s = scope
    while True:
        candidates.append(f"{s}.{name}" if s else name)
        if not s:
            break
        s = s.rsplit(".", 1)[0] if "." in s else ""
    for c in candidates:
        if c in messages:
            return "message", c
        if c in enums:
            return "enum", c
    if f"google.protobuf.{name}" in WELL_KNOWN:
        return "well_known", WELL_KNOWN[f"google.protobuf.{name}"]
    raise SystemExit(f"unresolved type {name} in {scope}")


def main():
    for dirpath, _, files in os.walk(ROOT):
        for f in sorted(files):
            if f.endswith(".proto"):
                parse_file(os.path.join(dirpath, f))
    out_messages, out_enums = {}, {}
    todo = list(ROOTS)
    while todo:
        m = todo.pop()
        if m in out_messages:
            continue
        if m not in messages:
            raise SystemExit(f"root {m} not found under {ROOT}")
        short = m.rsplit(".", 1)[1]
        fields = []
        for f in messages[m]["fields"]:
            kind, target = resolve(f["type"], f["scope"])
            entry = {k: v for k, v in f.items() if k not in ("scope", "type")}
            entry["kind"] = kind
            entry["type"] = target
            if short in ALL_RESOURCE_MESSAGES and kind == "message":
                tshort = target.rsplit(".", 1)[1]
                if tshort not in SERVED_RESOURCES | SERVED_OPS and not target.endswith(("common.Metrics", "common.Segments")):
                    entry["kind"] = "unsupported"
                    fields.append(entry)
                    continue
            if kind == "message":
                todo.append(target)
            elif kind == "enum":
                out_enums[target] = enums[target]
            fields.append(entry)
        out_messages[m] = {"fields": fields}
    table = {
        "generated_by": "scripts/gen-google-ads-fields.py from googleapis google/ads/googleads/v25 protos",
        "version": "v25",
        "messages": dict(sorted(out_messages.items())),
        "enums": dict(sorted(out_enums.items())),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump(table, fh, indent=0, sort_keys=False, separators=(",", ":"))
        fh.write("\n")
    print(f"{len(out_messages)} messages, {len(out_enums)} enums -> {OUT}")


if __name__ == "__main__":
    main()
