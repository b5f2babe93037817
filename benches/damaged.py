#!/usr/bin/env python3
"""Score `runner apply-patch` on real commits whose patches are damaged the way models damage them.

    benches/damaged.py --runner main=target/release/runner [--runner NAME=PATH ...]
                       --repo PATH [--repo PATH ...] [--per-class N] [--seed S] [--out DIR]

Why: the engine must never exit 0 with a tree other than the author meant (WRONG), never exit 0
having done nothing when a change was due (LIE), and get at least 97 % of cases right. Hand-made
fixtures test the rules we thought of; this measures the engine on changes real people made.

Corpus, built at run time from the git history of the given repositories (read-only; nothing of
theirs is kept): every non-merge commit that modifies, adds or deletes 1 to 3 UTF-8 text files
(no renames, no mode changes, no CR, under 200 KB). For each: the tree before (the touched files,
plus every file of the parent tree sharing a basename with one, so that path correction sees the
candidates it would see in the full tree), the tree after, and the change rendered three ways:
the unified diff (`git diff -U3`), a Codex `*** Begin Patch` envelope and SEARCH/REPLACE blocks.

Damage classes (see DAMAGES below; the name prefix says the format: u- unified, cx- Codex,
sr- SEARCH/REPLACE). Each case has an expected outcome:
  APPLY   the intent is certain: exit 0 and the tree equals the commit's after-tree byte for byte
  REFUSE  the intent is not recoverable (truncated, lazy placeholder, drifted tree): exit 1 and
          the tree unchanged
  EITHER  genuinely ambiguous (e.g. an anchor that is not unique): applied exactly right, or
          refused with the tree unchanged
Verdicts: RIGHT; WRONG (exit 0 with any tree but the intended one, or a tree change with exit
!= 0); LIE (exit 0, nothing changed, a change was due); MISS (refused, tree unchanged, but it
should have applied); ERROR (exit 2, a crash or a timeout, tree unchanged).

Each run prints a table per damage class and totals per binary, writes results.tsv (one row per
case and binary) under --out, and every WRONG, LIE, MISS and ERROR case to
OUT/<binary>/<verdict>/<case>/ with before/, expected/, actual/, the patch, runner's output and
repro.sh (one command: copies before/ to a temp dir, applies, diffs against expected/).

Run 2026-12-01 (2-core VM shared with 8 builds; repos: this one, pallets/itsdangerous,
lukeed/kleur, fatih/color; defaults: 300 commits each, 621 usable, 12 cases a class, 624 cases
in 52 classes; corpus 7 s, 12-20 s a binary):
    main (fbbe105, before h13a merge) RIGHT 352  WRONG 172  LIE 0  MISS 56  ERROR 44   56.4 %
    h13a (22eb95e, parsers/formats)    RIGHT 508  WRONG  90  LIE 0  MISS 26  ERROR  0   81.4 %
    h13b (44eb73a, matcher/planner)    RIGHT 467  WRONG  82  LIE 0  MISS 31  ERROR 44   74.8 %
The two branches fail on disjoint classes: taking the better of the two per case, 621 of 624
are right.
"""
import argparse
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

MAX_FILE = 200_000
SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


# ---------------------------------------------------------------- corpus from git history

def git(repo, *args, raw=False):
    out = subprocess.run(["git", "-C", repo, *args], capture_output=True, check=True).stdout
    return out if raw else out.decode("utf-8", "replace")


def commits(repo, limit):
    """Yield (parent, commit, [(status, path)]) for commits that fit the corpus rules."""
    log = git(repo, "log", "--no-merges", "--raw", "--no-renames", "--format=C %H %P",
              f"-n{limit}", "HEAD")
    for chunk in log.split("C ")[1:]:
        rows = [r for r in chunk.split("\n") if r]
        parts = rows[0].split()
        if len(parts) != 2:
            continue
        changes = []
        for row in rows[1:]:
            meta, path = row.split("\t", 1)
            old_mode, new_mode, _, _, status = meta[1:].split()
            if status not in "AMD" or not SAFE_PATH.match(path):
                break
            if {old_mode, new_mode} - {"000000"} != {"100644"}:
                break
            changes.append((status, path))
        else:
            if 1 <= len(changes) <= 3:
                yield parts[1], parts[0], changes


class Blobs:
    """One `git cat-file --batch` per repository: a process per blob would dominate the run."""

    def __init__(self, repo):
        self.proc = subprocess.Popen(["git", "-C", repo, "cat-file", "--batch"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def get(self, rev, path):
        self.proc.stdin.write(f"{rev}:{path}\n".encode())
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) != 3:
            raise RuntimeError(f"could not read {rev}:{path} from git")
        data = self.proc.stdout.read(int(header[2]))
        self.proc.stdout.read(1)
        return data


BLOBS = {}


def blob(repo, rev, path):
    if repo not in BLOBS:
        BLOBS[repo] = Blobs(repo)
    return BLOBS[repo].get(rev, path)


def load_case(repo, parent, commit, changes):
    """Before/after trees and the parsed diff, or None when a file is not plain text."""
    names = git(repo, "ls-tree", "-r", "--name-only", parent).split("\n")
    names = [n for n in names if n]
    touched = {p for _, p in changes}
    bases = {os.path.basename(p) for p in touched}
    before, after = {}, {}
    for status, path in changes:
        if status != "A":
            before[path] = blob(repo, parent, path)
        if status != "D":
            after[path] = blob(repo, commit, path)
    for data in list(before.values()) + list(after.values()):
        if len(data) > MAX_FILE or b"\r" in data or b"\0" in data:
            return None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    for name in names:  # namesakes: what a path correction has to choose among
        if name not in touched and os.path.basename(name) in bases:
            data = blob(repo, parent, name)
            if len(data) <= MAX_FILE:
                before[name] = after[name] = data
    diff = git(repo, "diff", "-U3", "--no-renames", "--no-color", "--no-ext-diff", parent, commit,
               "--", *sorted(touched))
    files = parse_diff(diff)
    if files is None or not files:
        return None
    return {"repo": os.path.basename(os.path.dirname(repo.rstrip("/"))) if repo.endswith("/repo")
            else os.path.basename(repo.rstrip("/")),
            "commit": commit[:10], "before": before, "after": after, "files": files,
            "names": names, "diff": diff}


HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


def parse_diff(text):
    """Parse git's diff into [{path, status, hunks: [{os, ol, ns, nl, section, lines}]}].

    A line is [tag, text, eol]: tag in ' -+', eol False when followed by "\\ No newline"."""
    files, cur, hunk = [], None, None
    for line in text.split("\n")[:-1]:
        if line.startswith("diff --git "):
            cur = {"path": None, "status": "M", "hunks": []}
            files.append(cur)
            hunk = None
        elif cur is None:
            return None
        elif hunk is None and line.startswith("new file mode"):
            cur["status"] = "A"
        elif hunk is None and line.startswith("deleted file mode"):
            cur["status"] = "D"
        elif hunk is None and line.startswith("--- "):
            if line != "--- /dev/null":
                cur["path"] = line[6:]
        elif hunk is None and line.startswith("+++ "):
            if line != "+++ /dev/null":
                cur["path"] = line[6:]
        elif line.startswith("@@"):
            m = HUNK.match(line)
            if not m:
                return None
            hunk = {"os": int(m[1]), "ol": int(m[2] if m[2] is not None else 1),
                    "ns": int(m[3]), "nl": int(m[4] if m[4] is not None else 1),
                    "section": m[5], "lines": []}
            cur["hunks"].append(hunk)
        elif hunk is not None and line.startswith("\\"):
            hunk["lines"][-1][2] = False
        elif hunk is not None and line[:1] in (" ", "-", "+"):
            hunk["lines"].append([line[0], line[1:], True])
        elif hunk is None:
            continue  # index, mode lines
        else:
            return None
    for f in files:
        if f["path"] is None or (f["status"] == "M" and not f["hunks"]):
            return None
    return files


# ---------------------------------------------------------------- renderers

def hunk_header(h, bare=False):
    if bare:
        return "@@ @@"
    sec = f" {h['section']}" if h["section"] else ""
    return f"@@ -{h['os']},{h['ol']} +{h['ns']},{h['nl']} @@{sec}"


def recount(h):
    h["ol"] = sum(1 for t, _, _ in h["lines"] if t in " -")
    h["nl"] = sum(1 for t, _, _ in h["lines"] if t in " +")
    return h


def render_unified(files, style="git", bare=False, paths=None, zone="+0000"):
    """style: git (diff --git, a/ b/, /dev/null) or dashN (`diff -Nru`, epoch timestamps)."""
    out = []
    stamp = "2026-11-30 10:00:00.000000000 +0000"
    epoch = {"+0000": "1970-01-01 00:00:00.000000000 +0000",
             "-0800": "1969-12-31 16:00:00.000000000 -0800",
             "+0100": "1970-01-01 01:00:00.000000000 +0100"}[zone]
    for f in files:
        p = (paths or {}).get(f["path"], f["path"])
        if style == "git":
            out.append(f"diff --git a/{p} b/{p}")
            if f["status"] == "A":
                out.append("new file mode 100644")
            if f["status"] == "D":
                out.append("deleted file mode 100644")
            out.append("--- /dev/null" if f["status"] == "A" else f"--- a/{p}")
            out.append("+++ /dev/null" if f["status"] == "D" else f"+++ b/{p}")
        else:
            out.append(f"diff -Nru a/{p} b/{p}")
            out.append(f"--- a/{p}\t{epoch if f['status'] == 'A' else stamp}")
            out.append(f"+++ b/{p}\t{epoch if f['status'] == 'D' else stamp}")
        for h in f["hunks"]:
            out.append(h.get("header") or hunk_header(h, bare))
            for tag, text, eol in h["lines"]:
                out.append(tag + text)
                if not eol:
                    out.append("\\ No newline at end of file")
    return "\n".join(out) + "\n"


def anchor_for(case, f, h, floor):
    """The nearest line above the hunk that starts a definition-ish line (git's default
    funcname rule), used as a Codex `@@ anchor`; none when that line is not below `floor`
    (0-based: the first line after the previous chunk), where Codex would not look for it."""
    lines = case["before"][f["path"]].decode().split("\n")
    for i in range(min(h["os"] - 2, len(lines) - 1), floor - 1, -1):
        if re.match(r"[A-Za-z_$]", lines[i]):
            return lines[i].rstrip()
    return ""


def render_codex(case, files, anchors=False, paths=None):
    out = ["*** Begin Patch"]
    for f in files:
        p = (paths or {}).get(f["path"], f["path"])
        if f["status"] == "A":
            out.append(f"*** Add File: {p}")
            out += ["+" + t for _, t, _ in f["hunks"][0]["lines"]] if f["hunks"] else []
        elif f["status"] == "D":
            out.append(f"*** Delete File: {p}")
        else:
            out.append(f"*** Update File: {p}")
            nlines = case["before"][f["path"]].decode().count("\n")
            floor = 0
            for h in f["hunks"]:
                a = anchor_for(case, f, h, floor) if anchors else ""
                floor = h["os"] - 1 + h["ol"]
                out.append(f"@@ {a}" if a else "@@")
                out += [t + x for t, x, _ in h["lines"]]
                if h["os"] + h["ol"] - 1 >= nlines and h["ol"] > 0:
                    out.append("*** End of File")
    out.append("*** End Patch")
    return "\n".join(out) + "\n"


def sr_blocks(files):
    """[(path, search_lines, replace_lines)] for the files SEARCH/REPLACE can express."""
    blocks = []
    for f in files:
        if f["status"] == "D":
            return None
        for h in f["hunks"]:
            old = [x for t, x, _ in h["lines"] if t in " -"]
            new = [x for t, x, _ in h["lines"] if t in " +"]
            if f["status"] == "M" and not old:
                return None
            blocks.append((f["path"], old, new))
    return blocks


def render_sr(blocks, paths=None, markers=("<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"),
              fence=True):
    out = []
    for path, old, new in blocks:
        out.append((paths or {}).get(path, path))
        if fence:
            out.append("```")
        out.append(markers[0])
        out += old
        out.append(markers[1])
        out += new
        out.append(markers[2])
        if fence:
            out.append("```")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- ambiguity oracles

def find_all(lines, block):
    n = len(block)
    return [i for i in range(len(lines) - n + 1) if lines[i:i + n] == block]


def unique_by_text(case):
    """True when every hunk, located by its old text alone in the file as it stands after the
    previous hunks, is found exactly once and the result is the commit's: formats without line
    numbers (and diffs whose numbers were damaged) then have one reading only."""
    for f in case["files"]:
        if f["status"] != "M":
            continue
        lines = case["before"][f["path"]].decode().split("\n")
        for h in f["hunks"]:
            old = [x for t, x, _ in h["lines"] if t in " -"]
            new = [x for t, x, _ in h["lines"] if t in " +"]
            hits = find_all(lines, old)
            if len(hits) != 1:
                return False
            lines[hits[0]:hits[0] + len(old)] = new
        if "\n".join(lines).encode() != case["after"][f["path"]]:
            return False
    return True


def all_eol(case):
    """Codex and SEARCH/REPLACE cannot say "no newline at end of file"."""
    return all(e for f in case["files"] for h in f["hunks"] for _, _, e in h["lines"])


# ---------------------------------------------------------------- damages

def clone(files):
    return [dict(f, hunks=[dict(h, lines=[list(l) for l in h["lines"]]) for h in f["hunks"]])
            for f in files]


def modified_hunks(files):
    return [(f, h) for f in files if f["status"] == "M" for h in f["hunks"]]


def ambig(case, sure="APPLY"):
    return sure if unique_by_text(case) else "EITHER"


def indent(s):
    return s[:len(s) - len(s.lstrip(" \t"))]


def placeholder(path):
    ext = path.rsplit(".", 1)[-1]
    if ext in ("rs", "js", "ts", "go", "c", "h", "java", "mjs", "cjs", "jsx", "tsx"):
        return "// ... existing code ..."
    if ext in ("py", "toml", "sh", "yml", "yaml", "cfg", "rb"):
        return "# ... rest of the code unchanged ..."
    if ext in ("css",):
        return "/* ... */"
    return None


def d_u_clean(case, rng):
    return render_unified(case["files"]), "APPLY"


def d_u_lineno_offset(case, rng):
    files = clone(case["files"])
    k = rng.choice([-1, 1]) * rng.randint(3, 40)
    for _, h in modified_hunks(files):
        h["os"] = max(1, h["os"] + k)
        h["ns"] = max(1, h["ns"] + k)
    if not modified_hunks(files):
        return None
    return render_unified(files), ambig(case)


def d_u_bare_headers(case, rng):
    if not modified_hunks(case["files"]):
        return None
    files = clone(case["files"])
    for f in files:
        if f["status"] == "M":
            for h in f["hunks"]:
                h["header"] = "@@ @@"
    return render_unified(files), ambig(case)


def _trailing_ctx_ok(files):
    for f in files:
        if f["hunks"] and f["status"] == "M" and f["hunks"][-1]["lines"][-1][0] != " ":
            return False
    return True


def d_u_counts_high(case, rng):
    """Counts promising 1-2 lines more than the hunk has. Forgiven where another hunk or file
    follows; on the patch's last hunk it reads as truncation, so either answer is right."""
    files = clone(case["files"])
    hs = modified_hunks(files)
    if not hs:
        return None
    last = [h for f in files for h in f["hunks"]][-1]
    for _, h in hs:
        if h is last and len(hs) > 1:
            continue
        h["ol"] += rng.randint(1, 2)
        h["nl"] += rng.randint(1, 2)
    return render_unified(files), ("EITHER" if len(hs) == 1 and hs[0][1] is last else "APPLY")


def d_u_counts_low(case, rng):
    """Counts short by 1-2: the hunk's lines are all there."""
    files = clone(case["files"])
    hs = modified_hunks(files)
    if not hs:
        return None
    for _, h in hs:
        d = rng.randint(1, 2)
        h["ol"] = max(0, h["ol"] - d)
        h["nl"] = max(0, h["nl"] - d)
    return render_unified(files), ("APPLY" if _trailing_ctx_ok(files) else "EITHER")


def d_u_counts_missing(case, rng):
    """`@@ -12 +12 @@`: counts left out (read literally, each would be 1)."""
    files = clone(case["files"])
    hs = modified_hunks(files)
    if not hs:
        return None
    for _, h in hs:
        h["header"] = f"@@ -{h['os']} +{h['ns']} @@"
    return render_unified(files), ("APPLY" if _trailing_ctx_ok(files) else "EITHER")


def d_u_no_anchor(case, rng):
    """The added lines of a mid-file hunk sent as `@@ -0,0 +1,N @@` to an existing file:
    nothing says where they go."""
    for f in case["files"]:
        if f["status"] != "M":
            continue
        for h in f["hunks"]:
            if h["lines"][0][0] == " " and h["os"] > 1 and any(t == "+" for t, _, _ in h["lines"]):
                adds = [x for t, x, _ in h["lines"] if t == "+"]
                body = "".join("+" + x + "\n" for x in adds)
                return (f"--- a/{f['path']}\n+++ b/{f['path']}\n@@ -0,0 +1,{len(adds)} @@\n"
                        + body), "REFUSE"
    return None


def d_u_blank_ctx_nospace(case, rng):
    files = clone(case["files"])
    n = 0
    for _, h in modified_hunks(files):
        for l in h["lines"]:
            if l[0] == " " and l[1] == "":
                l[0] = ""
                n += 1
    return (render_unified(files), "APPLY") if n else None


def d_u_trailing_ws(case, rng):
    files = clone(case["files"])
    n = 0
    for _, h in modified_hunks(files):
        for l in h["lines"]:
            if l[0] in " -" and l[1].strip():
                if l[1] != l[1].rstrip():
                    l[1] = l[1].rstrip()
                    n += 1
                elif rng.random() < 0.5:
                    l[1] += rng.choice(["  ", " ", "\t"])
                    n += 1
    return (render_unified(files), "APPLY") if n else None


def _swap_ws(text, to_spaces):
    ind = indent(text)
    if to_spaces:
        if ind.strip("\t"):
            return None
        return "    " * len(ind) + text[len(ind):]
    if ind.strip(" ") or len(ind) % 4:
        return None
    return "\t" * (len(ind) // 4) + text[len(ind):]


def _ws_damage(case, which):
    """Re-indent the lines whose tag is in `which` (tabs to 4 spaces in a file indented with
    tabs, 4 spaces to a tab otherwise); None when the mapping is not clean."""
    files = clone(case["files"])
    to_spaces = any("\t" in indent(x) for _, h in modified_hunks(files) for _, x, _ in h["lines"])
    mapped = 0
    for _, h in modified_hunks(files):
        ctx_ind = [indent(x) for t, x, _ in h["lines"] if t == " " and x.strip()]
        for l in h["lines"]:
            if l[0] not in which or not l[1].strip():
                continue
            new = _swap_ws(l[1], to_spaces)
            if new is None:
                return None
            if new != l[1]:
                mapped += 1
            l[1] = new
        if which != " " and not any(ctx_ind):
            return None  # no context line says what the mapping is
    return files if mapped else None


def d_u_tabs_spaces_ctx(case, rng):
    """Context re-indented, added lines not: the patch mixes two habits, so a refusal asking
    for the file's indentation is as right as applying."""
    files = _ws_damage(case, " ")
    return (render_unified(files), "EITHER") if files else None


def d_u_reindent_all(case, rng):
    files = _ws_damage(case, " -+")
    return (render_unified(files), "APPLY") if files else None


def d_u_indent_width(case, rng):
    """4-space indentation written as 2 (all lines): added lines must come back at 4."""
    files = clone(case["files"])
    n = 0
    for _, h in modified_hunks(files):
        if not any(indent(x) for t, x, _ in h["lines"] if t == " " and x.strip()):
            return None
        for l in h["lines"]:
            ind = indent(l[1])
            if not l[1].strip():
                continue
            if ind.strip(" ") or len(ind) % 4:
                return None
            if ind:
                l[1] = " " * (len(ind) // 2) + l[1][len(ind):]
                n += 1
    return (render_unified(files), "APPLY") if n else None


def d_u_crlf(case, rng):
    return render_unified(case["files"]).replace("\n", "\r\n"), "APPLY"


def d_u_md_fence(case, rng):
    return ("Here is the patch:\n\n```diff\n" + render_unified(case["files"]) + "```\n"), "APPLY"


def d_u_ctx_altered(case, rng):
    files = clone(case["files"])
    cands = [l for _, h in modified_hunks(files) for l in h["lines"]
             if l[0] == " " and re.search(r"[a-z]{3}", l[1])]
    if not cands:
        return None
    l = rng.choice(cands)
    m = list(re.finditer(r"[a-z]{3,}", l[1]))[0]
    word = m.group(0)
    l[1] = l[1][:m.start()] + word[0].upper() + word[1:] + l[1][m.end():]
    return render_unified(files), "EITHER"


def d_u_ctx_duplicated(case, rng):
    files = clone(case["files"])
    hs = [h for _, h in modified_hunks(files)
          if any(t == " " and x.strip() for t, x, _ in h["lines"])]
    if not hs:
        return None
    h = rng.choice(hs)
    idx = rng.choice([i for i, (t, x, _) in enumerate(h["lines"]) if t == " " and x.strip()])
    h["lines"].insert(idx, list(h["lines"][idx]))
    recount(h)
    return render_unified(files), "EITHER"


def d_u_ctx_trimmed(case, rng):
    """Context cut to one line on both sides (counts and numbers kept consistent)."""
    files = clone(case["files"])
    n = 0
    for _, h in modified_hunks(files):
        ls = h["lines"]
        lead = next(i for i, l in enumerate(ls) if l[0] != " ") if any(l[0] != " " for l in ls) else 0
        trail = next(i for i, l in enumerate(reversed(ls)) if l[0] != " ")
        cut_lead, cut_trail = max(0, lead - 1), max(0, trail - 1)
        if cut_lead or cut_trail:
            n += 1
        h["lines"] = ls[cut_lead:len(ls) - cut_trail]
        h["os"] += cut_lead
        h["ns"] += cut_lead
        recount(h)
    if not n:
        return None
    # one line of context is far less unique: decide by the trimmed text
    trimmed = dict(case, files=files)
    return render_unified(files), ("APPLY" if unique_by_text(trimmed) else "EITHER")


def d_u_ctx_tail_cut(case, rng):
    """One line of trailing context dropped from every hunk (counts kept consistent): fewer
    lines after than before reads, as GNU patch reads it, as "ends at the end of the file"."""
    files = clone(case["files"])
    n = 0
    for _, h in modified_hunks(files):
        if len(h["lines"]) >= 2 and h["lines"][-1][0] == " " and h["lines"][-2][0] == " ":
            h["lines"].pop()
            recount(h)
            n += 1
    return (render_unified(files), "EITHER") if n else None


def d_u_half_applied(case, rng):
    """The tree already holds the first hunk of a two-or-more-hunk file: the rest is due."""
    for f in case["files"]:
        if f["status"] != "M" or len(f["hunks"]) < 2:
            continue
        h = f["hunks"][0]
        lines = case["before"][f["path"]].decode().split("\n")
        old = [x for t, x, _ in h["lines"] if t in " -"]
        new = [x for t, x, _ in h["lines"] if t in " +"]
        at = h["os"] - 1
        if lines[at:at + len(old)] != old or not all(e for _, _, e in h["lines"]):
            return None
        lines[at:at + len(old)] = new
        return render_unified(case["files"]), "EITHER", {f["path"]: "\n".join(lines).encode()}
    return None


def _last_minus_then_plus(files):
    for f in reversed(files):
        for h in reversed(f["hunks"]):
            ls = h["lines"]
            for i in range(len(ls) - 1, 0, -1):
                if ls[i][0] == "+" and ls[i - 1][0] == "-":
                    return f, h, i
    return None


def _cut_after(files, f, h, i):
    """Files and hunks up to line i (exclusive) of hunk h of file f; nothing after."""
    out = []
    for g in files:
        g2 = dict(g, hunks=[])
        out.append(g2)
        for k in g["hunks"]:
            if k is h:
                g2["hunks"].append(dict(k, lines=k["lines"][:i]))
                return out
            g2["hunks"].append(k)
    return out


def d_u_trunc_after_minus(case, rng):
    found = _last_minus_then_plus(case["files"])
    if not found:
        return None
    f, h, i = found
    return render_unified(_cut_after(case["files"], f, h, i)), "REFUSE"


def _mid_plus(files):
    """The last '+' line that is followed by more lines of its hunk."""
    for f in reversed(files):
        for h in reversed(f["hunks"]):
            ls = h["lines"]
            for i in range(len(ls) - 2, -1, -1):
                if ls[i][0] == "+" and len(ls[i][1].strip()) >= 6:
                    return f, h, i
    return None


def d_u_trunc_mid_line(case, rng):
    found = _mid_plus(case["files"])
    if not found:
        return None
    f, h, i = found
    text = render_unified(_cut_after(case["files"], f, h, i))
    line = h["lines"][i][1]
    return text + "+" + line[:len(line) // 2], "REFUSE"


def d_u_trunc_mid_plus_run(case, rng):
    for f in reversed(case["files"]):
        for h in reversed(f["hunks"]):
            ls = h["lines"]
            for i in range(len(ls) - 1, 0, -1):
                if ls[i][0] == "+" and ls[i - 1][0] == "+":
                    return render_unified(_cut_after(case["files"], f, h, i)), "REFUSE"
    return None


def d_u_placeholder(case, rng):
    """Leading context rewritten as removed lines plus one `... existing code ...` line."""
    files = clone(case["files"])
    for f in files:
        ph = placeholder(f["path"])
        if f["status"] != "M" or not ph:
            continue
        for h in f["hunks"]:
            ls = h["lines"]
            lead = 0
            while lead < len(ls) and ls[lead][0] == " ":
                lead += 1
            if lead < 2 or lead == len(ls) or not any(x.strip() for _, x, _ in ls[:lead]):
                continue
            ind = next(indent(x) for _, x, _ in ls[:lead] if x.strip())
            h["lines"] = [["-", x, e] for _, x, e in ls[:lead]] + [["+", ind + ph, True]] + ls[lead:]
            recount(h)
            return render_unified(files), "REFUSE"
    return None


def d_u_dup_hunk(case, rng):
    files = clone(case["files"])
    hs = modified_hunks(files)
    if not hs:
        return None
    f, h = rng.choice(hs)
    i = f["hunks"].index(h)
    f["hunks"].insert(i + 1, clone([dict(f, hunks=[h])])[0]["hunks"][0])
    return render_unified(files), "APPLY"


def _wrong_dir(case, rng):
    """A path map that drops or adds leading directories, and the expected outcome."""
    paths, expect = {}, "APPLY"
    names = set(case["names"])
    for f in case["files"]:
        if f["status"] != "M":
            continue
        p = f["path"]
        if "/" in p and rng.random() < 0.6:
            parts = p.split("/")
            wrong = "/".join(parts[rng.randint(1, len(parts) - 1):])
            if wrong in names:
                continue
            cands = [n for n in names if n == wrong or n.endswith("/" + wrong)]
        else:
            wrong = rng.choice(["app/", "src/", "project/", "repo/"]) + p
            if wrong in names:
                continue
            # the brief's rule: files that end with the named path minus leading components
            cands = [n for n in names if n == p or n.endswith("/" + p)]
        paths[p] = wrong
        if len(cands) != 1:
            expect = "EITHER"
    return (paths, expect) if paths else None


def d_u_wrong_dir(case, rng):
    wd = _wrong_dir(case, rng)
    if not wd:
        return None
    return render_unified(case["files"], paths=wd[0]), wd[1]


def d_u_dashN(case, rng):
    zone = rng.choice(["+0000", "-0800", "+0100"])
    return render_unified(case["files"], style="dashN", zone=zone), "APPLY"


def d_u_dashN_create_delete(case, rng):
    """`diff -N` creations and deletions, known only by the epoch timestamp (any zone)."""
    if not any(f["status"] in "AD" for f in case["files"]):
        return None
    return d_u_dashN(case, rng)


def d_u_header_contradiction(case, rng):
    text = render_unified(case["files"])
    f = next((f for f in case["files"] if f["status"] == "M"), None)
    if not f:
        return None
    return text.replace(f"+++ b/{f['path']}\n", f"+++ b/{f['path']}-blah\n", 1), "EITHER"


def d_u_already_applied(case, rng):
    return render_unified(case["files"]), "NOOP"


def d_u_tree_drift(case, rng):
    """The tree moved under a removed line (removal-only hunks first): must be refused."""
    hs = [(f, h) for f, h in modified_hunks(case["files"])
          if any(t == "-" and x.strip() for t, x, _ in h["lines"])]
    if not hs:
        return None
    hs.sort(key=lambda fh: any(t == "+" for t, _, _ in fh[1]["lines"]))
    f, h = hs[0]
    i = next(i for i, l in enumerate(h["lines"]) if l[0] == "-" and l[1].strip())
    lineno = h["os"] - 1 + sum(1 for t, _, _ in h["lines"][:i] if t in " -")
    lines = case["before"][f["path"]].decode().split("\n")
    text = lines[lineno]
    m = re.search(r"[A-Za-z0-9]", text)
    if not m:
        return None
    lines[lineno] = text[:m.start()] + "zz" + text[m.start():]
    return render_unified(case["files"]), "REFUSE", {f["path"]: "\n".join(lines).encode()}


# Codex

def d_cx_clean(case, rng):
    return render_codex(case, case["files"]), ambig(case)


def d_cx_anchored(case, rng):
    return render_codex(case, case["files"], anchors=True), ambig(case)


def d_cx_no_end(case, rng):
    text = render_codex(case, case["files"])
    return text[: -len("*** End Patch\n")], "REFUSE"


def d_cx_trunc_after_minus(case, rng):
    found = _last_minus_then_plus(case["files"])
    if not found:
        return None
    f, h, i = found
    text = render_codex(case, _cut_after(case["files"], f, h, i))
    text = text[: -len("*** End Patch\n")]
    if text.endswith("*** End of File\n"):
        text = text[: -len("*** End of File\n")]
    return text, "REFUSE"


def d_cx_trunc_mid_line(case, rng):
    found = _mid_plus(case["files"])
    if not found:
        return None
    f, h, i = found
    text = render_codex(case, _cut_after(case["files"], f, h, i))[: -len("*** End Patch\n")]
    if text.endswith("*** End of File\n"):
        text = text[: -len("*** End of File\n")]
    line = h["lines"][i][1]
    return text + "+" + line[:len(line) // 2], "REFUSE"


def d_cx_marker_spaces(case, rng):
    """Trailing spaces on every marker, leading ones on `*** Begin Patch` only: after a chunk,
    " *** Update File: x" is a context line as much as a marker."""
    out = []
    for line in render_codex(case, case["files"]).split("\n"):
        if line.startswith("*** "):
            lead = rng.choice([" ", "  "]) if line == "*** Begin Patch" else ""
            line = lead + line + rng.choice([" ", "  ", "\t"])
        out.append(line)
    return "\n".join(out), ambig(case)


def d_cx_heredoc(case, rng):
    firsts = {f["path"].split("/")[0] for f in case["files"]}
    if len(firsts) == 1 and all("/" in f["path"] for f in case["files"]):
        sub = firsts.pop()
        paths = {f["path"]: f["path"][len(sub) + 1:] for f in case["files"]}
        body = render_codex(case, case["files"], paths=paths)
        return f"cd {sub} && apply_patch <<'EOF'\n{body}EOF\n", ambig(case)
    return f"apply_patch <<'EOF'\n{render_codex(case, case['files'])}EOF\n", ambig(case)


def d_cx_placeholder(case, rng):
    made = d_u_placeholder(case, rng)
    if not made:
        return None
    files = parse_diff(made[0])
    return render_codex(dict(case, before=case["before"]), files), "REFUSE"


def d_cx_dup_chunk(case, rng):
    made = d_u_dup_hunk(case, rng)
    if not made:
        return None
    return render_codex(case, parse_diff(made[0])), ambig(case)


def d_cx_reindent_all(case, rng):
    files = _ws_damage(case, " -+")
    return (render_codex(case, files), ambig(case)) if files else None


def d_cx_wrong_dir(case, rng):
    wd = _wrong_dir(case, rng)
    if not wd:
        return None
    return render_codex(case, case["files"], paths=wd[0]), (wd[1] if unique_by_text(case) else "EITHER")


def d_cx_blank_ctx_nospace(case, rng):
    text = render_codex(case, case["files"])
    if "\n \n" not in text:
        return None
    while "\n \n" in text:
        text = text.replace("\n \n", "\n\n")
    return text, ambig(case)


# SEARCH/REPLACE

def d_sr_clean(case, rng):
    return render_sr(case["blocks"]), ambig(case)


def d_sr_markers(case, rng):
    markers = rng.choice([("<<<<<<< SEARCH>", "=======", ">>>>>>> REPLACE"),
                          ("<<<<<<< SEARCH", "========", ">>>>>>> REPLACE"),
                          ("<<<<<<< SEARCH", "=========", ">>>>>>> REPLACE "),
                          ("------- SEARCH", "=======", "+++++++ REPLACE")])
    return render_sr(case["blocks"], markers=markers), ambig(case)


def d_sr_ws_line_in_search(case, rng):
    blocks = [(p, [x if x.strip() else " " * rng.randint(7, 12) for x in old], new)
              for p, old, new in case["blocks"]]
    if blocks == case["blocks"]:
        return None
    return render_sr(blocks), ambig(case)


def d_sr_trunc_no_replace(case, rng):
    text = render_sr(case["blocks"], fence=False)
    end = text.rfind(">>>>>>> REPLACE")
    cut = text[:end]
    last_div = cut.rfind("=======\n") + len("=======\n")
    body = cut[last_div:].split("\n")
    keep = max(0, len([b for b in body if b]) // 2)
    return cut[:last_div] + "\n".join(body[:keep]) + ("\n" if keep else ""), "REFUSE"


def d_sr_trunc_mid_line(case, rng):
    p, old, new = case["blocks"][-1]
    longs = [i for i, x in enumerate(new) if len(x.strip()) >= 6]
    if not longs:
        return None
    i = longs[len(longs) // 2]
    text = render_sr(case["blocks"][:-1] + [(p, old, new[:i])], fence=False)
    text = text[: text.rfind(">>>>>>> REPLACE")]
    return text + new[i][: len(new[i]) // 2], "REFUSE"


def d_sr_placeholder(case, rng):
    for k, (p, old, new) in enumerate(case["blocks"]):
        ph = placeholder(p)
        if not ph or len(old) < 3:
            continue
        lead = 0
        while lead < min(len(old), len(new)) and old[lead] == new[lead]:
            lead += 1
        if lead < 2 or not any(x.strip() for x in old[:lead]):
            continue
        ind = next(indent(x) for x in old[:lead] if x.strip())
        blocks = list(case["blocks"])
        blocks[k] = (p, old, [ind + ph] + new[lead:])
        return render_sr(blocks), "REFUSE"
    return None


def d_sr_dup_block(case, rng):
    k = rng.randrange(len(case["blocks"]))
    blocks = case["blocks"][: k + 1] + case["blocks"][k:]
    return render_sr(blocks), ambig(case)


def d_sr_crlf(case, rng):
    return render_sr(case["blocks"]).replace("\n", "\r\n"), ambig(case)


def d_sr_wrong_dir(case, rng):
    wd = _wrong_dir(case, rng)
    if not wd:
        return None
    return render_sr(case["blocks"], paths=wd[0]), (wd[1] if unique_by_text(case) else "EITHER")


def d_sr_reindent_all(case, rng):
    files = _ws_damage(case, " -+")
    if not files:
        return None
    blocks = sr_blocks(files)
    return (render_sr(blocks), ambig(case)) if blocks else None


UNIFIED = [d_u_clean, d_u_lineno_offset, d_u_bare_headers, d_u_counts_high, d_u_counts_low,
           d_u_counts_missing, d_u_no_anchor, d_u_dashN_create_delete,
           d_u_blank_ctx_nospace, d_u_trailing_ws, d_u_tabs_spaces_ctx, d_u_reindent_all,
           d_u_indent_width, d_u_crlf, d_u_md_fence, d_u_ctx_altered, d_u_ctx_duplicated,
           d_u_ctx_trimmed, d_u_ctx_tail_cut, d_u_half_applied, d_u_trunc_after_minus, d_u_trunc_mid_line, d_u_trunc_mid_plus_run,
           d_u_placeholder, d_u_dup_hunk, d_u_wrong_dir, d_u_dashN, d_u_header_contradiction,
           d_u_already_applied, d_u_tree_drift]
CODEX = [d_cx_clean, d_cx_anchored, d_cx_no_end, d_cx_trunc_after_minus, d_cx_trunc_mid_line,
         d_cx_marker_spaces, d_cx_heredoc, d_cx_placeholder, d_cx_dup_chunk, d_cx_reindent_all,
         d_cx_wrong_dir, d_cx_blank_ctx_nospace]
SR = [d_sr_clean, d_sr_markers, d_sr_ws_line_in_search, d_sr_trunc_no_replace,
      d_sr_trunc_mid_line, d_sr_placeholder, d_sr_dup_block, d_sr_crlf, d_sr_wrong_dir,
      d_sr_reindent_all]
DAMAGES = UNIFIED + CODEX + SR


def class_name(fn):
    return fn.__name__[2:].replace("_", "-")


# ---------------------------------------------------------------- running and judging

def write_tree(root, tree):
    for path, data in tree.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)


def read_tree(root):
    tree = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                tree[os.path.relpath(full, root)] = fh.read()
    return tree


def judge(expect, rc, tree, before, after):
    changed = tree != before
    if rc == 0:
        if tree == after and (changed or expect == "NOOP"):
            return "RIGHT" if expect != "REFUSE" else "WRONG"
        if not changed:
            return "LIE" if before != after or expect == "REFUSE" else "RIGHT"
        return "WRONG"
    if changed:
        return "WRONG"
    if rc == 1:
        return "MISS" if expect == "APPLY" else "RIGHT"
    return "ERROR"


def save(out, binary, verdict, cid, case, case_expect, patch, before, after, tree, proc):
    d = os.path.join(out, binary["name"], verdict, cid)
    shutil.rmtree(d, ignore_errors=True)
    # a refusal is right only with the tree as it was
    expected = before if case_expect == "REFUSE" else after
    for sub, t in (("before", before), ("expected", expected), ("actual", tree)):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        write_tree(os.path.join(d, sub), t)
    with open(os.path.join(d, "patch"), "wb") as fh:
        fh.write(patch)
    with open(os.path.join(d, "runner.out"), "w") as fh:
        fh.write(f"exit {proc[0]}\n--- stdout\n{proc[1]}\n--- stderr\n{proc[2]}\n")
    with open(os.path.join(d, "repro.sh"), "w") as fh:
        fh.write(f"#!/bin/sh\n# {case['repo']} {case['commit']} {cid}: expected {case_expect}, "
                 f"got {verdict}\n"
                 f"cd \"$(dirname \"$0\")\" && t=$(mktemp -d) && cp -r before/. \"$t\" && "
                 f"{binary['path']} apply-patch --tree \"$t\" patch; echo \"exit $?\"; "
                 f"diff -r expected \"$t\" && echo 'tree == expected'\n")
    os.chmod(os.path.join(d, "repro.sh"), 0o755)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runner", action="append", required=True, help="NAME=PATH of a runner binary")
    ap.add_argument("--repo", action="append", required=True, help="a git repository (bare is fine)")
    ap.add_argument("--per-class", type=int, default=12, help="cases per damage class")
    ap.add_argument("--commits", type=int, default=300, help="commits looked at per repository")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default="/work/corpus-out")
    ap.add_argument("--only", default="", help="comma-separated damage classes to run")
    args = ap.parse_args()
    binaries = [dict(zip(("name", "path"), r.split("=", 1))) for r in args.runner]
    for b in binaries:
        b["path"] = os.path.abspath(b["path"])

    t0 = time.time()
    pool = []
    for repo in args.repo:
        for parent, commit, changes in commits(repo, args.commits):
            case = load_case(repo, parent, commit, changes)
            if case:
                case["blocks"] = sr_blocks(case["files"]) if all_eol(case) else None
                pool.append(case)
    print(f"corpus: {len(pool)} commits from {len(args.repo)} repositories "
          f"({time.time() - t0:.1f}s)", file=sys.stderr)

    only = set(filter(None, args.only.split(",")))
    cases = []
    for fn in DAMAGES:
        name = class_name(fn)
        if only and name not in only:
            continue
        fmt_ok = (lambda c: True) if fn in UNIFIED else (
            (lambda c: all_eol(c)) if fn in CODEX else (lambda c: c["blocks"] is not None))
        order = list(range(len(pool)))
        # a class's sample depends on the seed and its name only, not on the classes before it
        random.Random(f"{args.seed}-{name}").shuffle(order)
        # spread each class over the repositories rather than taking the biggest one's commits
        seen = defaultdict(int)
        rank = {}
        for i in order:
            rank[i] = seen[pool[i]["repo"]]
            seen[pool[i]["repo"]] += 1
        order.sort(key=lambda i: rank[i])
        taken = 0
        for i in order:
            if taken >= args.per_class:
                break
            case = pool[i]
            if not fmt_ok(case):
                continue
            made = fn(case, random.Random(f"{args.seed}-{name}-{case['commit']}"))
            if not made:
                continue
            patch, expect = made[0], made[1]
            before = dict(case["before"], **(made[2] if len(made) > 2 else {}))
            after = case["after"]
            if expect == "NOOP":
                before = after
            cases.append({"id": f"{name}.{case['repo']}.{case['commit']}", "cls": name,
                          "case": case, "patch": patch.encode(), "expect": expect,
                          "before": before, "after": after})
            taken += 1
    print(f"cases: {len(cases)} in {len({c['cls'] for c in cases})} classes "
          f"({time.time() - t0:.1f}s)", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    tsv = open(os.path.join(args.out, "results.tsv"), "w")
    tsv.write("binary\tcase\tclass\texpect\tverdict\texit\treason\n")
    work = tempfile.mkdtemp(prefix="damaged-")
    verdicts = ("RIGHT", "WRONG", "LIE", "MISS", "ERROR")
    for b in binaries:
        shutil.rmtree(os.path.join(args.out, b["name"]), ignore_errors=True)
        table = defaultdict(lambda: defaultdict(int))
        tb = time.time()
        for n, c in enumerate(cases):
            tree_dir = os.path.join(work, f"t{n}")
            os.makedirs(tree_dir)
            write_tree(tree_dir, c["before"])
            patch_file = os.path.join(work, f"p{n}")
            with open(patch_file, "wb") as fh:
                fh.write(c["patch"])
            try:
                p = subprocess.run([b["path"], "apply-patch", "--tree", tree_dir, patch_file],
                                   capture_output=True, timeout=30)
                proc = (p.returncode, p.stdout.decode("utf-8", "replace"),
                        p.stderr.decode("utf-8", "replace"))
            except subprocess.TimeoutExpired:
                proc = (-1, "", "timeout")
            tree = read_tree(tree_dir)
            before, after = c["before"], c["after"]
            v = judge(c["expect"], proc[0], tree, before, after)
            table[c["cls"]][v] += 1
            table[c["cls"]]["expect:" + c["expect"]] += 1
            reason = (proc[2].strip().split("\n")[0] if proc[2] else "")[:300]
            tsv.write(f"{b['name']}\t{c['id']}\t{c['cls']}\t{c['expect']}\t{v}\t{proc[0]}\t{reason}\n")
            if v != "RIGHT":
                save(args.out, b, v, c["id"], c["case"], c["expect"], c["patch"], before, after, tree, proc)
            shutil.rmtree(tree_dir)
            os.unlink(patch_file)
        print(f"\n== {b['name']} ({b['path']}): {len(cases)} cases in {time.time() - tb:.1f}s")
        print(f"{'class':28} {'n':>4} {'expect A/R/E/N':>15} " + " ".join(f"{v:>6}" for v in verdicts))
        totals = defaultdict(int)
        for cls in [class_name(fn) for fn in DAMAGES]:
            row = table.get(cls)
            if not row:
                continue
            n = sum(row[v] for v in verdicts)
            exp = "/".join(str(row["expect:" + e]) for e in ("APPLY", "REFUSE", "EITHER", "NOOP"))
            print(f"{cls:28} {n:4} {exp:>15} " + " ".join(f"{row[v]:6}" for v in verdicts))
            for v in verdicts:
                totals[v] += row[v]
        n = sum(totals.values())
        print(f"{'TOTAL':28} {n:4} {'':>15} " + " ".join(f"{totals[v]:6}" for v in verdicts)
              + f"   right {100.0 * totals['RIGHT'] / max(n, 1):.1f}%")
    tsv.close()
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nper-case rows: {os.path.join(args.out, 'results.tsv')}; "
          f"non-RIGHT cases: {args.out}/<binary>/<verdict>/<case>/repro.sh")


if __name__ == "__main__":
    main()
