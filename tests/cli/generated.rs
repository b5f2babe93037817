//! man/ and completions/ are generated from the clap definitions and committed. This test
//! renders them afresh and fails when the committed files drift; `RUNNER_BLESS=1 cargo test
//! generated` rewrites them. Two things clap's generators leave out are added here: fish
//! completions for positional values (`runner mode <TAB>`), and man pages `mandoc -T lint`
//! passes (a `.TH` with a date and version, lines of at most 80 bytes, no stray paragraph macros).

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use runner::testing::Cli;

/// The date the man pages give in their `.TH` line: the last change to what they describe.
/// Bump it when the command line changes.
const MAN_DATE: &str = "2026-12-01";

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
        if shell == Shell::Fish {
            out = fish_help_topics(&String::from_utf8(out).unwrap()).into_bytes();
            out.extend_from_slice(fish_positionals(&cmd).as_bytes());
        }
        files.push((PathBuf::from(format!("completions/{file}")), out));
    }
    files
}

/// clap_complete offers `runner help`'s topics only until a subcommand name is on the line, and
/// counts `help` itself as one, so it never offers them: leave `help` out of that list.
fn fish_help_topics(script: &str) -> String {
    let mut out = String::new();
    for line in script.lines() {
        if line.starts_with(
            "complete -c runner -n \"__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from ",
        ) {
            out.push_str(&line.replacen(" help\" -f", "\" -f", 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// clap_complete's fish script completes options only: offer each subcommand's positional
/// values (the modes after `runner mode`), without files.
fn fish_positionals(cmd: &clap::Command) -> String {
    let mut out = String::new();
    for sub in cmd.get_subcommands() {
        for arg in sub.get_positionals() {
            for value in arg.get_possible_values().iter().filter(|v| !v.is_hide_set()) {
                let help = value.get_help().map(|h| format!(" -d '{}'", h.to_string().replace('\'', "\\'")));
                out.push_str(&format!(
                    "complete -c runner -n \"__fish_runner_using_subcommand {}\" -f -a \"{}\"{}\n",
                    sub.get_name(),
                    value.get_name(),
                    help.unwrap_or_default()
                ));
            }
        }
    }
    out
}

/// clap_mangen's page with the exit-code table as its own EXIT STATUS section, made lint-clean.
fn man_page(cmd: clap::Command) -> Vec<u8> {
    lint_clean(&render_man(&cmd), &cmd.get_name().to_uppercase())
}

/// What mandoc's lint flags in clap_mangen's output, fixed: a `.TH` without a date or version
/// (and a lower-case title), trailing spaces, text lines over 80 bytes, and `.br` around the
/// blank line before a list of possible values.
fn lint_clean(page: &[u8], title: &str) -> Vec<u8> {
    let page = String::from_utf8(page.to_vec()).expect("man pages are UTF-8");
    let page = page.replace(".br\n\n.br\n", ".sp\n");
    let mut out = String::new();
    for line in page.lines() {
        let line = line.trim_end();
        if line.starts_with(".TH ") {
            let version = env!("CARGO_PKG_VERSION");
            out.push_str(&format!(".TH {title} 1 \"{MAN_DATE}\" \"runner {version}\" \"User Commands\"\n"));
        } else if line.starts_with('.') || line.len() <= 80 {
            out.push_str(line);
            out.push('\n');
        } else {
            out.push_str(&wrap(line, 80));
        }
    }
    out.into_bytes()
}

/// A filled text line broken at spaces into lines of at most `width` bytes where it can be,
/// never before a word a line may not start with (`.` or `'` would make it a request).
fn wrap(line: &str, width: usize) -> String {
    let mut out = String::new();
    let mut current = String::new();
    for word in line.split(' ') {
        let fits = current.len() + 1 + word.len() <= width;
        let may_start = !word.starts_with('.') && !word.starts_with('\'') && !word.is_empty();
        if !current.is_empty() && !fits && may_start && !current.ends_with('\\') {
            out.push_str(&current);
            out.push('\n');
            current.clear();
        } else if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push_str(&current);
    out.push('\n');
    out
}

fn render_man(cmd: &clap::Command) -> Vec<u8> {
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
    for (code, meaning) in runner::testing::CODES {
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
