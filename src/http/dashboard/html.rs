//! The page frame every dashboard page shares (head, style, navigation) and the small pieces
//! pages are built from: escaping, badges, forms carrying the CSRF token. No external assets
//! and no script: every page works with scripts off.

use std::fmt::Write;

use crate::http::wire::Response;
use crate::operator::session::Session;

/// What the browser may do: act (a session, with the CSRF token its forms carry) or only read
/// (the bearer token in a header, or `public_status`).
#[derive(Debug, Clone)]
pub(super) enum Viewer {
    Session(Session),
    ReadOnly,
}

impl Viewer {
    pub(super) fn session(&self) -> Option<&Session> {
        match self {
            Viewer::Session(s) => Some(s),
            Viewer::ReadOnly => None,
        }
    }
}

/// HTML-escape text from patches and state files.
pub(super) fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Percent-encode a query value (ids and env names are safe already; filters may not be).
pub(super) fn url(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A whole page. `refresh` reloads it every so many seconds (the overview only: a form being
/// filled in must not be reloaded away).
pub(super) fn page(status: u16, title: &str, viewer: &Viewer, refresh: Option<u32>, body: &str) -> Response {
    let mut h = String::with_capacity(body.len() + 4096);
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">"
    );
    if let Some(secs) = refresh {
        let _ = write!(h, "<meta http-equiv=refresh content={secs}>");
    }
    let _ = write!(
        h,
        "<title>{} · runner</title><style>{STYLE}</style></head><body><nav>\
         <a href=/dashboard>Overview</a><a href=/dashboard/patches>Patches</a>",
        esc(title)
    );
    match viewer {
        Viewer::Session(s) => {
            let _ = write!(
                h,
                "<form method=post action=/dashboard/sign-out class=right>{}<button>Sign out</button></form>",
                csrf_input(s)
            );
        }
        Viewer::ReadOnly => h.push_str("<a class=right href=/dashboard/sign-in>Sign in</a>"),
    }
    h.push_str("</nav><main>");
    h.push_str(body);
    h.push_str("</main></body></html>\n");
    Response::new(status, "text/html; charset=utf-8", h)
        .with_header("Cache-Control", "no-store")
        .with_header("X-Frame-Options", "DENY")
        .with_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        )
}

pub(super) fn csrf_input(session: &Session) -> String {
    format!("<input type=hidden name=csrf value={}>", session.csrf)
}

/// A one-button form posting to `action` with the CSRF token and `fields` as hidden inputs.
pub(super) fn button(session: &Session, action: &str, label: &str, class: &str, fields: &[(&str, &str)]) -> String {
    let mut h = format!("<form method=post action=\"{}\" class=inline>{}", esc(action), csrf_input(session));
    for (name, value) in fields {
        let _ = write!(h, "<input type=hidden name={name} value=\"{}\">", esc(value));
    }
    let _ = write!(h, "<button class=\"{class}\">{}</button></form>", esc(label));
    h
}

/// A coloured label: `kind` picks the colour (ok, warn, bad, muted).
pub(super) fn badge(kind: &str, text: &str) -> String {
    format!("<span class=\"badge {kind}\">{}</span>", esc(text))
}

/// The colour of a patch's state and outcome; a reverted patch is not shown as a success.
pub(super) fn patch_badge(state: &str, outcome: Option<&str>, reverted: bool) -> String {
    if reverted {
        return badge("muted", "reverted");
    }
    match outcome {
        Some(o @ ("applied" | "already-applied")) => badge("ok", o),
        Some(o) => badge("bad", o),
        None => badge("warn", state),
    }
}

/// A message box: `kind` is ok or bad.
pub(super) fn notice(kind: &str, text: &str) -> String {
    format!("<p class=\"notice {kind}\" role=status>{}</p>", esc(text))
}

const STYLE: &str = "*{box-sizing:border-box}\
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9;overflow-wrap:anywhere}\
nav{display:flex;flex-wrap:wrap;gap:.2em 1em;align-items:center;padding:.6em 1em;background:#1d2430}\
nav a{color:#fff;text-decoration:none;font-weight:600}nav .right{margin-left:auto}\
nav button{background:none;border:1px solid #778;color:#fff}\
main{max-width:68em;margin:0 auto;padding:.5em 1em 2em}\
h1{font-size:1.4em;margin:.6em 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}\
.scroll{overflow-x:auto;max-width:100%}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:.93em}\
th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e3e6ea;vertical-align:top}\
th{font-weight:600;color:#556;background:#eef0f3}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.badge{display:inline-block;padding:.05em .5em;border-radius:1em;font-size:.85em;font-weight:600;white-space:nowrap}\
.ok{background:#d9f2df;color:#145c27}.warn{background:#fff1c2;color:#6b4e00}\
.bad{background:#fbd5d5;color:#8a1010}.muted{background:#e4e6ea;color:#444}\
.mode{font-size:.7em;vertical-align:middle}\
.notice{padding:.5em .8em;border-radius:.3em}\
pre{background:#fff;border:1px solid #e3e6ea;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85em;line-height:1.35}\
.diff span{display:block}.diff .add{background:#e6ffec;color:#0b5a1f}.diff .del{background:#ffebe9;color:#8a1010}\
.diff .hunk{color:#5a32a3}.diff .file{font-weight:700}\
.cut{color:#8a1010;font-style:italic}\
form.inline{display:inline}button,select,input{font:inherit;padding:.25em .6em;border-radius:.3em;border:1px solid #99a;background:#fff}\
button.primary{background:#1f6feb;color:#fff;border-color:#1f6feb}button.danger{background:#c62828;color:#fff;border-color:#c62828}\
.actions{display:flex;flex-wrap:wrap;align-items:center;gap:.5em;margin:.8em 0}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.5em 0}dt{color:#556}dd{margin:0}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(17em,1fr));gap:1em}\
figure{margin:0;background:#fff;padding:.5em;border:1px solid #e3e6ea}svg{width:100%;height:auto;display:block}\
figcaption{font-size:.85em;color:#556}.legend span{margin-right:.8em}\
.muted-text{color:#667;font-size:.88em}a{color:#1f5fbf}\
@media (max-width:560px){body{font-size:14px}\
table.cards,table.cards tbody{display:block}table.cards tr:first-child{display:none}table.cards tr{display:block;padding:.45em .5em;border-bottom:1px solid #e3e6ea}\
table.cards td{display:inline;border:0;padding:0 .6em 0 0}table.cards td.name{font-weight:600}\
table.cards td.long{display:block;padding-top:.15em}table.cards td.wide{display:none}\
table.cards td[data-label]::before{content:attr(data-label) \" \";color:#667;font-size:.85em}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_and_urls() {
        assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(url("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }

    #[test]
    fn reverted_is_not_green() {
        assert!(patch_badge("applied", Some("applied"), true).contains("muted\">reverted"));
        assert!(patch_badge("applied", Some("applied"), false).contains("ok\">applied"));
        assert!(patch_badge("failed", Some("refused"), false).contains("bad"));
        assert!(patch_badge("pending", None, false).contains("warn\">pending"));
    }
}
