//! Why a patch cannot be applied as it stands, in words for the model that wrote it and for the
//! operator: the file, the hunk, the reason, the line of the hunk that failed with what it
//! expected and what the file holds there, and the closest lines the file does hold.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub file: String,
    /// 1-based, across the file's hunks. Operations say which one in the reason instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hunk: Option<usize>,
    pub reason: String,
    /// The line that failed, where one did (boxed: most refusals name none, and a refusal
    /// travels in every `Result` of the planner).
    #[serde(flatten)]
    pub failed: Option<Box<Failed>>,
    /// The best-matching lines of the file, each as `NUMBER | text`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closest: Vec<String>,
}

/// The line of a hunk that failed and what the file holds where it was expected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// The line of the file (1-based) where the hunk's line was expected and `found` was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The line of the hunk (1-based, among its body lines) that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hunk_line: Option<usize>,
    /// What the hunk has at `hunk_line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What the file holds at `line` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

impl Refusal {
    pub fn new(file: impl Into<String>, reason: impl Into<String>) -> Refusal {
        Refusal { file: file.into(), hunk: None, reason: reason.into(), failed: None, closest: Vec::new() }
    }

    /// Name the line that failed.
    pub fn failed(mut self, failed: Failed) -> Refusal {
        self.failed = Some(Box::new(failed));
        self
    }

    pub fn hunk(mut self, n: usize) -> Refusal {
        self.hunk = Some(n);
        self
    }

    /// The refusal of the `n`th (1-based) operation of a JSON patch.
    pub fn operation(mut self, n: usize) -> Refusal {
        self.reason = format!("operation {n}: {}", self.reason);
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(n) = self.hunk {
            write!(f, ": hunk {n}")?;
        }
        write!(f, ": {}", self.reason)?;
        if !self.closest.is_empty() {
            write!(f, "\nclosest lines in {}:", self.file)?;
            for line in &self.closest {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}
