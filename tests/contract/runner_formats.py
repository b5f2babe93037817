"""Schemathesis hooks for runner's /openapi.json: strategies for the string formats the document
names but JSON Schema cannot spell (a patch that parses, a path inside the tree, a regular
expression the Rust `regex` crate takes). Loaded through SCHEMATHESIS_HOOKS=runner_formats by
tests/cli/api_contract.rs; the formats' meaning is in the document's descriptions."""

from hypothesis import strategies as st

import schemathesis

NAME = st.from_regex(r"\A[a-z][a-z0-9_]{0,7}\Z")
PATH = st.lists(NAME, min_size=1, max_size=3).map("/".join)
LINE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)

schemathesis.openapi.format("tree-path", PATH)
schemathesis.openapi.format(
    "patch-text",
    st.builds(
        lambda path, lines: "*** Begin Patch\n*** Add File: "
        + path
        + "\n"
        + "".join("+" + line + "\n" for line in lines)
        + "*** End Patch\n",
        PATH,
        st.lists(LINE, min_size=1, max_size=5),
    ),
)
schemathesis.openapi.format("rust-regex", NAME)
schemathesis.openapi.format("octal-mode", st.sampled_from(["644", "755", "600", "0o644", "0o755", "777", "0"]))
schemathesis.openapi.format(
    "callback-url", st.builds(lambda port, name: f"http://127.0.0.1:{port}/{name}", st.integers(1, 65535), NAME)
)
