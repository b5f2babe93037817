//! man/ and completions/ are generated from the clap definitions and committed. This test
//! renders them afresh and fails when the committed files drift; `RUNNER_BLESS=1 cargo test
//! generated` rewrites them.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use runner::cli::Cli;

fn rendered() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut cmd = Cli::command();
    cmd.build(); // propagate global options into each subcommand's page
    files.push((PathBuf::from("man/runner.1"), man_page(cmd.clone())));
    for sub in cmd.get_subcommands() {
        let name = format!("runner-{}", sub.get_name());
        let page = man_page(sub.clone().name(name.clone()).display_name(name.clone()));
        files.push((PathBuf::from(format!("man/{name}.1")), page));
    }
    for (shell, file) in [(Shell::Bash, "runner.bash"), (Shell::Zsh, "_runner"), (Shell::Fish, "runner.fish")] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "runner", &mut out);
        files.push((PathBuf::from(format!("completions/{file}")), out));
    }
    files
}

/// clap_mangen's page with the exit-code table as its own EXIT STATUS section.
fn man_page(cmd: clap::Command) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).unwrap();
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out).unwrap();
    }
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, meaning) in runner::exit::CODES {
        out.extend_from_slice(format!(".TP\n\\fB{code}\\fR\n{}\n", meaning.replace('-', "\\-")).as_bytes());
    }
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out).unwrap();
    }
    out
}

#[test]
fn generated_docs_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var_os("RUNNER_BLESS").is_some();
    let mut stale = Vec::new();
    for (rel, bytes) in rendered() {
        let path = root.join(&rel);
        if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
            continue;
        }
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else {
            stale.push(rel.display().to_string());
        }
    }
    for dir in ["man", "completions"] {
        let wanted: Vec<PathBuf> = rendered().into_iter().map(|(p, _)| p).collect();
        for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten().flatten() {
            let rel = Path::new(dir).join(entry.file_name());
            if !wanted.contains(&rel) {
                if bless {
                    std::fs::remove_file(entry.path()).unwrap();
                } else {
                    stale.push(format!("{} (no longer generated)", rel.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated docs are out of date: {}\nregenerate them with: RUNNER_BLESS=1 cargo test generated",
        stale.join(", ")
    );
}
