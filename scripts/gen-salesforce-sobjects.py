#!/usr/bin/env python3
"""Regenerate crates/adsctl-emulator/src/salesforce/sobjects.json, the describe metadata (Campaign, CampaignMember,
CampaignMemberStatus, Contact, Lead as REST API v68.0 describes them) the Salesforce emulator answers describe calls
from and checks records against, from the reference pack (../shared/reference/salesforce/sobjects.json, our own
compilation of interface facts, see SOURCE.md there). The file is taken as it is: checked to be JSON with the five
objects, written with a final newline.

Usage: scripts/gen-salesforce-sobjects.py [PACK_SOBJECTS_JSON] [OUT]
  PACK_SOBJECTS_JSON defaults to ../shared/reference/salesforce/sobjects.json next to the repository (or one level
                     higher)
  OUT                defaults to crates/adsctl-emulator/src/salesforce/sobjects.json
"""

import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OBJECTS = ["Campaign", "CampaignMember", "CampaignMemberStatus", "Contact", "Lead"]


def pack_default():
    for up in ("..", os.path.join("..", "..")):
        p = os.path.join(ROOT, up, "shared", "reference", "salesforce", "sobjects.json")
        if os.path.isfile(p):
            return p
    sys.exit("no ../shared/reference/salesforce/sobjects.json: give its path")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else pack_default()
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "crates", "adsctl-emulator", "src", "salesforce", "sobjects.json")
    text = open(src, encoding="utf-8").read()
    data = json.loads(text)
    missing = [o for o in OBJECTS if o not in json.dumps(data)]
    if missing:
        sys.exit("the pack's sobjects.json lacks " + ", ".join(missing))
    if not text.endswith("\n"):
        text += "\n"
    open(out, "w", encoding="utf-8").write(text)
    print(out)


main()
