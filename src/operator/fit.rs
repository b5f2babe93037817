//! Answers sized for a model: a patch's record (`GET /patches/{id}`, the held webhook answer, a
//! callback) stays under [`MAX_CHARS`] whatever its checks printed, since a GPT action rejects a
//! response of 100,000 characters or more. Each check's output keeps its head and its tail (the
//! tail holds the error, the head what ran), the cut is marked with where the full text is, and
//! the budget shrinks until the whole answer fits. The result file on disk keeps everything.

use serde_json::Value;

/// The longest answer, in bytes of JSON (never fewer than its characters).
pub(crate) const MAX_CHARS: usize = 90_000;

/// Budgets to try, largest first: (characters per check output, characters of other long texts).
const BUDGETS: [(usize, usize); 5] = [(16_000, 24_000), (8_000, 12_000), (3_000, 6_000), (1_000, 2_000), (300, 600)];
/// Files listed at most, when even the smallest budget does not fit.
const MAX_FILES: usize = 200;

/// Cut `record` (a patch record: `result`, `summary`) to fit; `full` is where the uncut record is.
pub(crate) fn fit(record: &mut Value, full: &str) {
    if size(record) <= MAX_CHARS {
        return;
    }
    let original = record.clone();
    for (per_check, per_text) in BUDGETS {
        *record = original.clone();
        cut(record, per_check, per_text, full);
        if size(record) <= MAX_CHARS {
            return;
        }
    }
    // Thousands of files or checks: keep the first ones and say how many there were.
    for list in ["files", "checks"] {
        if let Some(items) = record["result"][list].as_array_mut().filter(|a| a.len() > MAX_FILES) {
            let total = items.len();
            items.truncate(MAX_FILES);
            record["result"][format!("{list}_total")] = total.into();
        }
    }
    record["truncated"] = format!("this answer was cut to fit; the whole record is at {full}").into();
}

fn cut(record: &mut Value, per_check: usize, per_text: usize, full: &str) {
    if let Some(checks) = record["result"]["checks"].as_array_mut() {
        for check in checks {
            clip_field(check, "output", per_check, full);
        }
    }
    if let Some(result) = record.get_mut("result").filter(|r| r.is_object()) {
        for key in ["reason", "description"] {
            clip_field(result, key, per_text, full);
        }
    }
    clip_field(record, "summary", per_text, full);
}

fn clip_field(obj: &mut Value, key: &str, budget: usize, full: &str) {
    if let Some(text) = obj.get(key).and_then(Value::as_str)
        && let Some(cut) = clip(text, budget, full)
    {
        obj[key] = cut.into();
    }
}

/// `text` cut to about `budget` characters: its first quarter and last three quarters, with the
/// cut marked in the middle. `None` when it already fits.
pub(crate) fn clip(text: &str, budget: usize, full: &str) -> Option<String> {
    let chars = text.chars().count();
    if chars <= budget {
        return None;
    }
    let head = budget / 4;
    let tail = budget - head;
    let head_end = text.char_indices().nth(head).map_or(text.len(), |(i, _)| i);
    let tail_start = text.char_indices().nth(chars - tail).map_or(text.len(), |(i, _)| i);
    let dropped = chars - head - tail;
    Some(format!(
        "{}\n[… {dropped} characters cut here; the full text: {full} …]\n{}",
        &text[..head_end],
        &text[tail_start..]
    ))
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_megabyte_on_one_line_keeps_its_head_and_tail_and_fits() {
        let out = format!("START{}END", "x".repeat(1 << 20));
        let mut rec = json!({
            "id": "p", "summary": format!("# Patch p\n```\n{out}\n```\n"),
            "result": { "reason": "validate failed", "checks": [{ "output": out }, { "output": out.clone() }] },
        });
        fit(&mut rec, "http://h/patches/p?full=1");
        assert!(size(&rec) <= MAX_CHARS, "{}", size(&rec));
        let kept = rec["result"]["checks"][1]["output"].as_str().unwrap();
        assert!(kept.starts_with("STARTxx") && kept.ends_with("xxEND"), "{}", &kept[..40]);
        assert!(kept.contains("characters cut here; the full text: http://h/patches/p?full=1"), "{kept:.200}");
        assert_eq!(rec["result"]["reason"], "validate failed");
    }

    #[test]
    fn small_records_are_untouched_and_many_files_are_listed_in_part() {
        let small = json!({ "id": "p", "summary": "ok", "result": { "checks": [{ "output": "fine" }] } });
        let mut rec = small.clone();
        fit(&mut rec, "u");
        assert_eq!(rec, small);
        let files: Vec<Value> = (0..5000).map(|i| json!({ "path": format!("src/{i:0>40}.rs"), "added": 1 })).collect();
        let mut rec = json!({ "id": "p", "result": { "files": files } });
        fit(&mut rec, "u");
        assert!(size(&rec) <= MAX_CHARS);
        assert_eq!(rec["result"]["files_total"], 5000);
        assert!(rec["truncated"].as_str().unwrap().contains("u"));
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        let text = "é".repeat(100);
        let cut = clip(&text, 40, "u").unwrap();
        assert!(cut.starts_with(&"é".repeat(10)) && cut.ends_with(&"é".repeat(30)), "{cut}");
        assert!(cut.contains("60 characters cut"));
        assert_eq!(clip("short", 40, "u"), None);
    }
}
