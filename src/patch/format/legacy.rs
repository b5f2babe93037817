//! The seed system's JSON shapes, kept so its clients keep working:
//!
//! - `{id, role, target_file, patch: {pattern, replacement}}`: a regex replacement on one file
//!   (JavaScript replacement syntax: `$&`, `$1`);
//! - `{blockId, mutations: [{path, contents, op?, mode?}], postMutationBuild: {shell},
//!   validate: {shell}}`: whole-file writes (or deletes), then commands;
//! - the first wrapping the second: `{id, role, patch: {blockId, mutations, …}}`.
//!
//! `role` named the seed's target (MAIN, CYOPS), so it becomes the environment.

use anyhow::{Result, bail};
use serde_json::Value;

use super::envelope::{Obj, check_regex};
use crate::patch::model::{Edit, Meta};

/// Whether a JSON document has a legacy shape rather than the envelope's.
pub(crate) fn is_legacy(value: &Value) -> bool {
    let has = |k: &str| value.get(k).is_some();
    has("mutations") || has("blockId") || has("target_file") || value.get("patch").is_some_and(Value::is_object)
}

pub(crate) fn parse(value: &Value) -> Result<(Meta, Vec<Edit>)> {
    let outer = Obj::new(value, "")?;
    let mut meta = Meta {
        id: outer.opt_id("id")?,
        env: outer.opt_str("role")?.map(str::to_string),
        description: outer.opt_str("description")?.map(str::to_string),
        ..Meta::default()
    };
    let edits = if outer.get("mutations").is_some() {
        block(&outer, &mut meta)?
    } else {
        let inner = match outer.get("patch") {
            Some(p @ Value::Object(_)) => Obj::new(p, "patch")?,
            Some(_) => bail!("patch: expected an object ({{pattern, replacement}} or {{blockId, mutations}})"),
            None => bail!("patch: missing (a legacy patch has `mutations` or `patch`)"),
        };
        if inner.get("mutations").is_some() {
            block(&inner, &mut meta)?
        } else {
            let path = outer.str("target_file")?.to_string();
            let pattern = inner.str("pattern")?;
            check_regex(pattern).map_err(|e| e.context(inner.field("pattern")))?;
            let replacement = js_replacement(inner.str("replacement")?);
            vec![Edit::Regex { path, pattern: pattern.to_string(), replacement, count: None }]
        }
    };
    Ok((meta, edits))
}

/// `{blockId, mutations, postMutationBuild, validate}`.
fn block(o: &Obj, meta: &mut Meta) -> Result<Vec<Edit>> {
    if meta.id.is_none() {
        meta.id = o.opt_id("blockId")?;
    }
    for key in ["postMutationBuild", "validate"] {
        if let Some(v) = o.get(key) {
            meta.validate.push(Obj::new(v, &o.field(key))?.str("shell")?.to_string());
        }
    }
    let Some(Value::Array(list)) = o.get("mutations") else { bail!("{}: expected a list", o.field("mutations")) };
    if list.is_empty() {
        bail!("{}: empty; nothing to apply", o.field("mutations"));
    }
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let m = Obj::new(m, &format!("{}[{i}]", o.field("mutations")))?;
            let path = m.str("path")?.to_string();
            match m.opt_str("op")?.unwrap_or("write") {
                "delete" | "remove" => Ok(Edit::Delete { path }),
                op @ ("write" | "create" | "update" | "upsert" | "replace") => Ok(Edit::Write {
                    path,
                    contents: m.str("contents")?.as_bytes().to_vec(),
                    mode: m.opt_mode("mode")?,
                    create: op == "create",
                }),
                other => bail!("{}: unknown op {other:?} (expected write, create or delete)", m.field("op")),
            }
        })
        .collect()
}

/// JavaScript's `$&` and `$1` in the `regex` crate's spelling (`${0}`, `${1}`), so `$1a` keeps
/// meaning group 1 then `a`.
fn js_replacement(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('&') => {
                chars.next();
                out.push_str("${0}");
            }
            Some('$') => {
                chars.next();
                out.push_str("$$");
            }
            Some(d) if d.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit).filter(|_| n.len() < 2) {
                    n.push(d);
                    chars.next();
                }
                out.push_str(&format!("${{{n}}}"));
            }
            _ => out.push_str("$$"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<(Meta, Vec<Edit>)> {
        parse(&serde_json::from_str(s).unwrap())
    }

    #[test]
    fn the_three_shapes() {
        let (meta, edits) =
            parse_str(r#"{"id": "p1", "role": "MAIN", "target_file": "a.js", "patch": {"pattern": "foo(\\d)", "replacement": "bar$1x $&"}}"#)
                .unwrap();
        assert_eq!((meta.id.as_deref(), meta.env.as_deref()), (Some("p1"), Some("MAIN")));
        assert_eq!(
            edits,
            vec![Edit::Regex {
                path: "a.js".into(),
                pattern: "foo(\\d)".into(),
                replacement: "bar${1}x ${0}".into(),
                count: None
            }]
        );
        let block = r#"{"blockId": "b7", "mutations": [{"path": "x", "contents": "1"}, {"path": "y", "op": "delete"}],
                        "postMutationBuild": {"shell": "make"}, "validate": {"shell": "make test"}}"#;
        let (meta, edits) = parse_str(block).unwrap();
        assert_eq!(meta.id.as_deref(), Some("b7"));
        assert_eq!(meta.validate, vec!["make", "make test"]);
        assert_eq!(edits.len(), 2);
        let (meta, edits) = parse_str(&format!(r#"{{"id": "outer", "role": "CYOPS", "patch": {block}}}"#)).unwrap();
        assert_eq!((meta.id.as_deref(), meta.env.as_deref(), edits.len()), (Some("outer"), Some("CYOPS"), 2));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |s: &str| format!("{:#}", parse_str(s).unwrap_err());
        assert!(err(r#"{"blockId": "b", "mutations": [{"contents": "x"}]}"#).contains("mutations[0].path: missing"));
        assert!(err(r#"{"target_file": "a", "patch": {"pattern": "a*", "replacement": ""}}"#).contains("empty string"));
        assert!(err(r#"{"patch": {"pattern": "a", "replacement": "b"}}"#).contains("target_file: missing"));
    }
}
