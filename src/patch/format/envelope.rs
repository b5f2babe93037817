//! The JSON envelope the webhook takes: metadata, and either `patch` (diff or Codex text) or
//! `operations`. Read field by field so every error names the field at fault
//! (`operations[2].path: missing`).

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

use crate::patch::model::{Edit, Meta, Mode};

/// The largest `count` an operation may ask for (the OpenAPI document says so).
pub(crate) const MAX_COUNT: u64 = 1_000_000_000_000_000;

/// A JSON object and where it sits in the document, for error messages.
pub(crate) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub at: String,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(value: &'a Value, at: &str) -> Result<Obj<'a>> {
        let what = if at.is_empty() { "the patch" } else { at };
        let map = value.as_object().ok_or_else(|| anyhow!("{what}: expected a JSON object"))?;
        Ok(Obj { map, at: at.to_string() })
    }

    pub(crate) fn field(&self, key: &str) -> String {
        if self.at.is_empty() { key.to_string() } else { format!("{}.{key}", self.at) }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => bail!("{}: expected a string", self.field(key)),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<&'a str> {
        self.opt_str(key)?.ok_or_else(|| anyhow!("{}: missing", self.field(key)))
    }

    /// A string or a number (ids are sometimes sent as numbers).
    pub(crate) fn opt_id(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => bail!("{}: expected a string", self.field(key)),
        }
    }

    pub(crate) fn opt_count(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            // 3.0 is the integer 3 in JSON (and in JSON Schema); MAX_COUNT is the documented bound.
            Some(v) => {
                match v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64)) {
                    Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(Some(n as usize)),
                    _ => bail!("{}: expected a whole number of at least 1", self.field(key)),
                }
            }
        }
    }

    /// Permission bits: `"755"`, `"0o755"`, or a number whose digits are read as octal (755).
    pub(crate) fn opt_mode(&self, key: &str) -> Result<Option<Mode>> {
        let text = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => bail!("{}: expected an octal mode like \"755\"", self.field(key)),
        };
        let digits = text.trim_start_matches("0o");
        match u32::from_str_radix(digits, 8) {
            Ok(mode) if mode <= 0o7777 => Mode::new(mode).map(Some).with_context(|| self.field(key)),
            _ => bail!("{}: {text:?} is not an octal mode like \"755\"", self.field(key)),
        }
    }

    /// Refuse fields nobody reads: a typo (`conten`) must not be silently ignored.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<()> {
        if let Some(key) = self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            bail!("{}: unknown field (expected {})", self.field(key), allowed.join(", "));
        }
        Ok(())
    }
}

/// The metadata fields every JSON shape shares.
pub(crate) fn meta(obj: &Obj) -> Result<Meta> {
    let validate = match obj.get("validate") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("{}[{i}]: expected a string", obj.field("validate")))
            })
            .collect::<Result<_>>()?,
        Some(_) => bail!("{}: expected a list of commands", obj.field("validate")),
    };
    Ok(Meta {
        id: obj.opt_id("id")?,
        env: obj.opt_str("env")?.map(str::to_string),
        description: obj.opt_str("description")?.map(str::to_string),
        author: obj.opt_str("author")?.map(str::to_string),
        validate,
        callback_url: obj.opt_str("callback_url")?.map(str::to_string),
    })
}

/// The envelope's edits: the `patch` text parsed by `text`, or the `operations`.
pub(crate) fn edits(obj: &Obj, text: impl FnOnce(&str) -> Result<Vec<Edit>>) -> Result<Vec<Edit>> {
    match (obj.get("patch"), obj.get("operations")) {
        (Some(_), Some(_)) => bail!("give either `patch` or `operations`, not both"),
        (Some(Value::String(s)), None) => text(s).context("in field `patch`"),
        (Some(_), None) => bail!("patch: expected the diff as a string"),
        (None, Some(Value::Array(ops))) if ops.is_empty() => bail!("operations: empty; nothing to apply"),
        (None, Some(Value::Array(ops))) => {
            ops.iter().enumerate().map(|(i, op)| operation(&Obj::new(op, &format!("operations[{i}]"))?)).collect()
        }
        (None, Some(_)) => bail!("operations: expected a list"),
        (None, None) => bail!("the envelope has neither `patch` (a diff) nor `operations`"),
    }
}

fn operation(o: &Obj) -> Result<Edit> {
    let op = o.str("op")?;
    let path = || o.str("path").map(str::to_string);
    let contents = || -> Result<Vec<u8>> {
        let key = if o.get("content").is_some() { "content" } else { "contents" };
        Ok(o.str(key)?.as_bytes().to_vec())
    };
    let edit = match op {
        "write" | "create" => {
            o.only(&["op", "path", "contents", "content", "mode"])?;
            Edit::Write { path: path()?, contents: contents()?, mode: o.opt_mode("mode")?, create: op == "create" }
        }
        "replace" => {
            o.only(&["op", "path", "search", "replace", "count"])?;
            let search = o.str("search")?;
            if search.is_empty() {
                bail!("{}: empty; say which text to replace", o.field("search"));
            }
            Edit::Replace {
                path: path()?,
                search: search.to_string(),
                replace: o.str("replace")?.to_string(),
                count: o.opt_count("count")?,
            }
        }
        "regex" => {
            o.only(&["op", "path", "pattern", "replacement", "count"])?;
            let pattern = o.str("pattern")?;
            check_regex(pattern).with_context(|| o.field("pattern"))?;
            Edit::Regex {
                path: path()?,
                pattern: pattern.to_string(),
                replacement: o.str("replacement")?.to_string(),
                count: o.opt_count("count")?,
            }
        }
        "delete" => {
            o.only(&["op", "path"])?;
            Edit::Delete { path: path()? }
        }
        "move" => {
            o.only(&["op", "path", "to"])?;
            Edit::Move { path: path()?, to: o.str("to")?.to_string() }
        }
        "chmod" => {
            o.only(&["op", "path", "mode"])?;
            let mode = o.opt_mode("mode")?.ok_or_else(|| anyhow!("{}: missing", o.field("mode")))?;
            Edit::Chmod { path: path()?, mode }
        }
        other => bail!(
            "{}: unknown operation {other:?} (expected write, create, replace, regex, delete, move, chmod)",
            o.field("op")
        ),
    };
    Ok(edit)
}

/// A pattern the `regex` crate (linear time) accepts and that cannot match the empty string
/// (which would insert the replacement between every character).
pub(crate) fn check_regex(pattern: &str) -> Result<()> {
    let re = regex::Regex::new(pattern).map_err(|e| anyhow!("invalid regular expression: {e}"))?;
    if re.is_match("") {
        bail!("the pattern {pattern:?} matches the empty string; anchor it to some text");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(json: &str) -> Result<Vec<Edit>> {
        let v: Value = serde_json::from_str(json).unwrap();
        edits(&Obj::new(&v, "").unwrap(), |_| unreachable!())
    }

    #[test]
    fn every_operation() {
        let edits = ops(r#"{"operations": [
            {"op": "write", "path": "a", "contents": "x", "mode": "755"},
            {"op": "create", "path": "b", "content": "y"},
            {"op": "replace", "path": "a", "search": "x", "replace": "z", "count": 2},
            {"op": "regex", "path": "a", "pattern": "x+", "replacement": "$0!"},
            {"op": "delete", "path": "c"},
            {"op": "move", "path": "a", "to": "d"},
            {"op": "chmod", "path": "d", "mode": 644}]}"#)
        .unwrap();
        assert_eq!(edits.len(), 7);
        assert_eq!(
            edits[0],
            Edit::Write {
                path: "a".into(),
                contents: b"x".to_vec(),
                mode: Some(Mode::new(0o755).unwrap()),
                create: false
            }
        );
        assert_eq!(edits[6], Edit::Chmod { path: "d".into(), mode: Mode::new(0o644).unwrap() });
    }

    #[test]
    fn errors_name_the_field() {
        let err = |json: &str| format!("{:#}", ops(json).unwrap_err());
        assert!(err(r#"{"operations": [{"op": "write", "contents": "x"}]}"#).contains("operations[0].path: missing"));
        assert!(
            err(r#"{"operations": [{"op": "write", "path": "a", "conten": "x"}]}"#)
                .contains("operations[0].conten: unknown field")
        );
        assert!(err(r#"{"operations": [{"op": "zap", "path": "a"}]}"#).contains("unknown operation \"zap\""));
        assert!(
            err(r#"{"operations": [{"op": "regex", "path": "a", "pattern": "x*", "replacement": ""}]}"#)
                .contains("empty string")
        );
        assert!(
            err(r#"{"operations": [{"op": "regex", "path": "a", "pattern": "(", "replacement": ""}]}"#)
                .contains("invalid regular")
        );
        assert!(err(r#"{"operations": [{"op": "chmod", "path": "a", "mode": "999"}]}"#).contains("octal"));
        assert!(
            err(r#"{"operations": [{"op": "replace", "path": "a", "search": "x", "replace": "y", "count": 0}]}"#)
                .contains("count")
        );
        assert!(err(r#"{"id": "x"}"#).contains("neither"));
        assert!(err(r#"{"operations": []}"#).contains("empty"));
    }
}
