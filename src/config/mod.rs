//! `runner.toml` plus flags and environment variables → validated [`Settings`].
//!
//! Search order: `--config FILE`, else `$RUNNER_CONFIG`, else `./runner.toml`; with none of them,
//! embedded defaults. Every key has a default; unknown keys and wrong types are errors that name
//! the file, the line and the key. Relative paths are relative to the config file's directory.

pub(crate) mod health;
pub(crate) mod net;
pub(crate) mod secret;
pub(crate) mod units;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

pub(crate) use health::{CheckConfig, ComponentConfig, HealthConfig};
use net::IpNet;
use secret::SecretRef;
use units::{Duration, Size};

pub(crate) const DEFAULT_FILE: &str = "runner.toml";
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:5555";

/// The file as written: every table and key runner.toml may hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    /// Where state, queues, results and logs live.
    pub home: PathBuf,
    /// The environment commands act on without `--env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_env: Option<String>,
    pub env: BTreeMap<String, EnvConfig>,
    pub server: ServerConfig,
    pub slack: SlackConfig,
    pub docs: DocsConfig,
    pub health: HealthConfig,
    pub check: Vec<CheckConfig>,
    pub component: Vec<ComponentConfig>,
}

/// One source tree that patches are applied to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EnvConfig {
    pub tree: PathBuf,
    /// Operator commands run in the tree after applying; a failure rolls the patch back.
    pub validate: Vec<String>,
    pub validate_timeout: Duration,
    /// Output kept from each validate command (the rest is cut).
    pub output_limit: Size,
    /// Run `validate` commands carried inside a patch.
    pub allow_patch_commands: bool,
    /// Patches wait for `runner approve` whatever the mode.
    pub require_approval: bool,
    /// Glob fence inside the tree (`src/**`); empty means the whole tree.
    pub allowed_paths: Vec<String>,
    /// Largest file a patch may create or edit.
    pub max_file_size: Size,
    /// Hosts a patch's `callback_url` may point at.
    pub callback_hosts: Vec<String>,
    /// `commit`: each applied patch becomes a git commit of exactly its files.
    pub git: GitMode,
    /// Apply only while this branch is checked out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    /// The commits' author; the patch's own `author` goes in a trailer.
    pub git_author: String,
    /// What to do with a patch that touches a file with uncommitted changes.
    pub git_dirty: GitDirty,
}

/// Whether applied patches are committed to the tree's git repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum GitMode {
    Off,
    Commit,
}

/// A patch touching a file with uncommitted changes: refused, or applied over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum GitDirty {
    Refuse,
    Allow,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ServerConfig {
    pub listen: String,
    /// Requests handled at once (connections are read by their own threads). Intake mostly waits
    /// on fsync, so more than the core count pays.
    pub threads: usize,
    /// Open connections at once; past this a new connection is answered 503 and closed.
    pub max_connections: usize,
    /// Open connections one client address may hold; unset means a quarter of `max_connections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_client: Option<usize>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub hmac_secret_env: Option<String>,
    pub hmac_secret_file: Option<PathBuf>,
    pub max_body_bytes: Size,
    pub max_header_bytes: Size,
    /// Bytes of request bodies held at once across all connections; past it, 503.
    pub max_body_memory: Size,
    /// Requests a minute one client address may make before 429, counted apart for requests
    /// that proved a credential and for the rest.
    pub rate_limit: u32,
    /// Peers whose `X-Forwarded-For` / `CF-Connecting-IP` name the client (a tunnel, a proxy).
    pub trusted_proxies: Vec<IpNet>,
    /// How long a client may take to send its request.
    pub read_timeout: Duration,
    /// Serve /status, /dashboard and /metrics without auth.
    pub public_status: bool,
    /// The address the outside world reaches this listener at (a tunnel), for links.
    pub public_url: Option<String>,
    /// Relative to home.
    pub pidfile: PathBuf,
    /// How long a dashboard sign-in lasts.
    pub session_ttl: Duration,
    /// Start `apply-patch --env E` as soon as a patch is durably queued (false: cron applies it).
    pub apply_on_receive: bool,
    /// The longest `?wait=` (or `Prefer: wait=`) a poster may ask the answer to be held for.
    pub max_wait: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SlackConfig {
    pub signing_secret_env: Option<String>,
    pub signing_secret_file: Option<PathBuf>,
    pub alert_webhook_env: Option<String>,
    pub alert_webhook_file: Option<PathBuf>,
    /// Slack user ids allowed to run commands that change anything; empty means everyone.
    pub admins: Vec<String>,
    pub alert_timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DocsConfig {
    /// archive-summaries moves summaries older than this.
    pub archive_after: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            home: PathBuf::from(".runner"),
            default_env: None,
            env: BTreeMap::new(),
            server: ServerConfig::default(),
            slack: SlackConfig::default(),
            docs: DocsConfig::default(),
            health: HealthConfig::default(),
            check: Vec::new(),
            component: Vec::new(),
        }
    }
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig {
            tree: PathBuf::from("."),
            validate: Vec::new(),
            validate_timeout: Duration::secs(600),
            output_limit: Size(64 << 10),
            allow_patch_commands: false,
            require_approval: false,
            allowed_paths: Vec::new(),
            max_file_size: Size(8 << 20),
            callback_hosts: Vec::new(),
            git: GitMode::Off,
            git_branch: None,
            git_author: "runner <runner@localhost>".to_string(),
            git_dirty: GitDirty::Refuse,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.to_string(),
            threads: 16,
            max_connections: 512,
            max_connections_per_client: None,
            token_env: None,
            token_file: None,
            hmac_secret_env: None,
            hmac_secret_file: None,
            max_body_bytes: Size(1 << 20),
            max_header_bytes: Size(8 << 10),
            max_body_memory: Size(64 << 20),
            rate_limit: 600,
            trusted_proxies: Vec::new(),
            read_timeout: Duration::secs(10),
            public_status: false,
            public_url: None,
            pidfile: PathBuf::from("state/serve.pid"),
            session_ttl: Duration::secs(12 * 3600),
            apply_on_receive: true,
            max_wait: Duration::secs(30),
        }
    }
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            signing_secret_env: None,
            signing_secret_file: None,
            alert_webhook_env: None,
            alert_webhook_file: None,
            admins: Vec::new(),
            alert_timeout: Duration::secs(5),
        }
    }
}

impl Default for DocsConfig {
    fn default() -> Self {
        DocsConfig { archive_after: Duration::secs(2 * 86_400) }
    }
}

impl ServerConfig {
    /// `max_connections_per_client`, or a quarter of `max_connections`: enough for one busy
    /// client, and never all of them.
    pub(crate) fn connections_per_client(&self) -> usize {
        self.max_connections_per_client.unwrap_or(self.max_connections / 4).max(1)
    }
    pub(crate) fn token(&self) -> SecretRef<'_> {
        SecretRef { key: "server.token", env: self.token_env.as_deref(), file: self.token_file.as_deref() }
    }
    pub(crate) fn hmac_secret(&self) -> SecretRef<'_> {
        SecretRef {
            key: "server.hmac_secret",
            env: self.hmac_secret_env.as_deref(),
            file: self.hmac_secret_file.as_deref(),
        }
    }
}

impl SlackConfig {
    pub(crate) fn signing_secret(&self) -> SecretRef<'_> {
        SecretRef {
            key: "slack.signing_secret",
            env: self.signing_secret_env.as_deref(),
            file: self.signing_secret_file.as_deref(),
        }
    }
    pub(crate) fn alert_webhook(&self) -> SecretRef<'_> {
        SecretRef {
            key: "slack.alert_webhook",
            env: self.alert_webhook_env.as_deref(),
            file: self.alert_webhook_file.as_deref(),
        }
    }
}

/// Validated settings that commands trust: paths absolute, environments known, the default chosen.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The file these came from; `None` for embedded defaults.
    pub source: Option<PathBuf>,
    pub config: Config,
    /// Absolute home directory (`--home` wins over the file).
    pub home: PathBuf,
    pub default_env: String,
}

impl Settings {
    /// Find and load the config: `config` is `--config` (or `$RUNNER_CONFIG`), `home` is `--home`
    /// (or `$RUNNER_HOME`), which wins over the file's.
    pub(crate) fn load(config: Option<&Path>, home: Option<&Path>) -> Result<Settings> {
        let cwd = std::env::current_dir().context("could not read the current directory")?;
        let explicit = config.map(|p| normalize(&cwd.join(p)));
        let found = explicit.clone().or_else(|| Some(cwd.join(DEFAULT_FILE)).filter(|p| p.is_file()));
        let mut settings = match found {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("could not read config {}", path.display()))?;
                Settings::from_toml(&text, Some(&path)).with_context(|| format!("invalid config {}", path.display()))?
            }
            None => Settings::from_toml("", None)?,
        };
        if let Some(home) = home {
            settings.home = normalize(&cwd.join(home));
        }
        Ok(settings)
    }

    /// Parse and validate config text. `path` is where it was read from (for relative paths).
    pub(crate) fn from_toml(text: &str, path: Option<&Path>) -> Result<Settings> {
        let mut config: Config = toml::from_str(text).map_err(|e| anyhow!("{}", e.to_string().trim_end()))?;
        let base = match path.and_then(Path::parent) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => std::env::current_dir().context("could not read the current directory")?,
        };
        if config.env.is_empty() {
            config.env.insert("main".to_string(), EnvConfig::default());
        }
        let default_env = match &config.default_env {
            Some(name) if config.env.contains_key(name) => name.clone(),
            Some(name) => bail!("{}: default_env = {name:?} names no [env.{name}] table", at_key(text, "default_env")),
            None if config.env.len() == 1 || config.env.contains_key("main") => {
                config.env.keys().find(|k| *k == "main").unwrap_or_else(|| config.env.keys().next().unwrap()).clone()
            }
            None => bail!(
                "default_env is not set and there are several environments: set default_env to one of {}",
                names(config.env.keys())
            ),
        };
        for (name, env) in &mut config.env {
            if !valid_env_name(name) {
                bail!(
                    "{}: environment name {name:?} may hold only letters, digits, `-` and `_`",
                    at_key(text, &format!("[env.{name}]"))
                );
            }
            env.tree = normalize(&base.join(&env.tree));
            if !valid_git_identity(&env.git_author) {
                bail!(
                    "{}: env.{name}.git_author = {:?} is not `Name <email>`",
                    at_key(text, "git_author"),
                    env.git_author
                );
            }
            crate::glob::Globs::new(&env.allowed_paths)
                .with_context(|| format!("{}: env.{name}.allowed_paths", at_key(text, "allowed_paths")))?;
        }
        for file in [
            &mut config.server.token_file,
            &mut config.server.hmac_secret_file,
            &mut config.slack.signing_secret_file,
            &mut config.slack.alert_webhook_file,
            &mut config.health.ping_url_file,
        ]
        .into_iter()
        .flatten()
        {
            *file = normalize(&base.join(&*file));
        }
        if config.server.max_connections_per_client == Some(0) {
            bail!(
                "{}: server.max_connections_per_client must be at least 1 (or unset: a quarter of max_connections)",
                at_key(text, "max_connections_per_client")
            );
        }
        if config.server.max_body_memory < config.server.max_body_bytes {
            bail!(
                "{}: server.max_body_memory ({}) is less than server.max_body_bytes ({}): no body that size could ever be read",
                at_key(text, "max_body_memory"),
                config.server.max_body_memory,
                config.server.max_body_bytes
            );
        }
        health::validate(&mut config.check, &mut config.component, &base, text)?;
        let home = normalize(&base.join(&config.home));
        config.server.pidfile = home.join(&config.server.pidfile);
        Ok(Settings { source: path.map(Path::to_path_buf), home, default_env, config })
    }

    /// The environment `--env` names, or the default.
    pub(crate) fn env(&self, name: Option<&str>) -> Result<(&str, &EnvConfig)> {
        let name = name.unwrap_or(&self.default_env);
        self.config.env.get_key_value(name).map(|(k, v)| (k.as_str(), v)).ok_or_else(|| {
            anyhow!("unknown environment {name:?}: runner.toml defines {}", names(self.config.env.keys()))
        })
    }

    /// The environments a command acts on: the one `--env` names, or all of them.
    pub(crate) fn envs(&self, name: Option<&str>) -> Result<Vec<(&str, &EnvConfig)>> {
        match name {
            Some(_) => Ok(vec![self.env(name)?]),
            None => Ok(self.config.env.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        }
    }
}

/// Resolve `.` and `..` lexically (`/a/./b/../c` → `/a/c`), as paths in a config file read.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `Name <email>`, as git's `--author` takes it.
fn valid_git_identity(id: &str) -> bool {
    id.strip_suffix('>')
        .and_then(|rest| rest.split_once(" <"))
        .is_some_and(|(name, email)| !name.trim().is_empty() && !email.is_empty() && !email.contains(['<', '>']))
}

pub(crate) fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn names<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    keys.map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// `line N, key K` for a key found in the text, for errors raised after parsing.
pub(crate) fn at_key(text: &str, key: &str) -> String {
    match text.lines().position(|l| l.trim_start().starts_with(key)) {
        Some(i) => format!("line {}, key {key}", i + 1),
        None => format!("key {key}"),
    }
}
