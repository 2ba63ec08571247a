#!/usr/bin/env python3
"""Renders config/ (the kustomization) into one file for `kubectl apply -f`, like MetalLB's metallb-native.yaml.

Usage: scripts/render-manifest.py [--stdout]   (default: writes config/manifests/bgplb-native.yaml)

Handles the kustomization fields config/ uses (resources in order, images) and refuses any other, so the file cannot
silently drift from what `kubectl apply -k config/` would create. A test regenerates it and compares.
"""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
OUTPUT = CONFIG / "manifests" / "bgplb-native.yaml"
SUPPORTED = {"apiVersion", "kind", "resources", "images"}


def render() -> str:
    kustomization = yaml.safe_load((CONFIG / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED
    if unsupported:
        sys.exit(f"render-manifest: config/kustomization.yaml uses {', '.join(sorted(unsupported))}, which this script does not apply")
    images = {i["name"]: f"{i.get('newName', i['name'])}:{i.get('newTag', 'latest')}" for i in kustomization.get("images", [])}

    def image(match: re.Match) -> str:
        return match.group(1) + images.get(match.group(2), match.group(2) + (match.group(3) or ""))

    parts = ["# BgpLb in one file: kubectl apply -f config/manifests/bgplb-native.yaml\n"
             "# Generated from config/ by scripts/render-manifest.py; do not edit (change config/ and run the script).\n"]
    for resource in kustomization["resources"]:
        # A leading "---" (after comments) would make an empty document.
        text = re.sub(r"\A((?:#.*\n)*)---\n", r"\1", (CONFIG / resource).read_text())
        text = re.sub(r"^([ \t]*image:[ \t]*)([^\s:@]+)([:@]\S+)?[ \t]*$", image, text, flags=re.MULTILINE)
        parts.append(f"# --- config/{resource}\n{text}")
    return "---\n".join(parts)


if __name__ == "__main__":
    manifest = render()
    if sys.argv[1:] == ["--stdout"]:
        sys.stdout.write(manifest)
    elif sys.argv[1:]:
        sys.exit(__doc__)
    else:
        OUTPUT.write_text(manifest)
